# Types the EVAL handlers' @cython.locals name (Cython pure-Python mode, see
# engine/core.pxd): Scripts is final, so its eval_command is a direct C call.
from vermilion.engine.core cimport ClientCore
from vermilion.scripting.scripts cimport Scripts
