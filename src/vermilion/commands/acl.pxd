# Types Acl.gate's @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport AclPlan, ClientCore
