// The seed document's Node.js examples (shared/seed/redis-advanced.txt), run
// unchanged against a server given as redis://host:port in argv[2].
// Prints one JSON line per section: {"section": ..., "ok": true|false, "error": ...}.
const { createClient } = require('redis');
const crypto = require('crypto');

const url = process.argv[2];
const only = process.argv[3];

async function section(name, fn) {
  if (only && only !== name) return;
  try {
    await fn();
    console.log(JSON.stringify({ section: name, ok: true }));
  } catch (err) {
    console.log(JSON.stringify({ section: name, ok: false, error: String(err && err.stack || err) }));
  }
}

function assert(cond, msg) { if (!cond) throw new Error('assertion failed: ' + msg); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const client = createClient({ url });
  await client.connect();
  await client.flushAll();

  await section('basics', async () => {
    assert(await client.ping() === 'PONG', 'ping');
    await client.set('greeting', 'hello');
    assert(await client.get('greeting') === 'hello', 'get');
    assert(await client.incr('n') === 1, 'incr');
  });

  await section('pubsub', async () => {
    const sub = createClient({ url });
    await sub.connect();
    const got = [];
    await sub.subscribe('orders', (message, channel) => got.push(`[${channel}] ${message}`));
    await sub.pSubscribe('orders.*', (message, channel) => got.push(`p[${channel}] ${message}`));
    const pub = createClient({ url });
    await pub.connect();
    const n = await pub.publish('orders', JSON.stringify({ id: 'abc', amount: 99 }));
    assert(n === 1, 'one receiver, got ' + n);
    await pub.publish('orders.created', 'c1');
    await pub.publish('orders.cancelled', 'c2');
    for (let i = 0; i < 50 && got.length < 3; i++) await sleep(10);
    assert(got[0] === '[orders] {"id":"abc","amount":99}', 'message ' + got[0]);
    assert(got.includes('p[orders.created] c1') && got.includes('p[orders.cancelled] c2'), 'pattern ' + got);
    await sub.quit(); await pub.quit();
  });

  await section('streams', async () => {
    const id = await client.xAdd('events', '*', { type: 'user.signup', userId: '42', email: 'alice@example.com' });
    assert(/^\d+-\d+$/.test(id), 'id ' + id);
    await client.xAdd('events', '*', { type: 'user.signup', userId: '43', email: 'bob@example.com' });
    await client.xAdd('events', '*', { type: 'order.paid', orderId: '99' });
    assert(await client.xLen('events') === 3, 'xlen');
    const entries = await client.xRange('events', '-', '+');
    assert(entries.length === 3 && entries[0].message.email === 'alice@example.com', 'xrange');
    const recent = await client.xRevRange('events', '+', '-', { COUNT: 10 });
    assert(recent[0].message.type === 'order.paid', 'xrevrange');
    try {
      await client.xGroupCreate('events', 'email-service', '0', { MKSTREAM: true });
    } catch (e) { if (!e.message.includes('BUSYGROUP')) throw e; }
    try {
      await client.xGroupCreate('events', 'email-service', '0', { MKSTREAM: true });
      throw new Error('expected BUSYGROUP');
    } catch (e) { if (!e.message.includes('BUSYGROUP')) throw e; }
    const seen = [];
    for (const consumer of ['consumer-1', 'consumer-2']) {
      const results = await client.xReadGroup('email-service', consumer, [{ key: 'events', id: '>' }], { COUNT: 2, BLOCK: 100 });
      if (!results) continue;
      for (const { name, messages } of results) {
        for (const { id: mid, message } of messages) {
          seen.push(mid);
          if (message.type !== 'order.paid') await client.xAck('events', 'email-service', mid);
        }
      }
    }
    assert(seen.length === 3, 'delivered once each: ' + seen);
    await sleep(20);
    const stale = await client.xAutoClaim('events', 'email-service', 'recovery-consumer', 10, '0-0');
    assert(stale.messages.length === 1 && stale.messages[0].message.type === 'order.paid', 'autoclaim');
    await client.xAdd('events', '*', { a: '1' }, { TRIM: { strategy: 'MAXLEN', threshold: 2, strategyModifier: '~' } });
    await client.xTrim('events', 'MAXLEN', 2);
    assert(await client.xLen('events') === 2, 'trim');
    const blocked = createClient({ url });
    await blocked.connect();
    const pending = blocked.xRead({ key: 'live', id: '$' }, { BLOCK: 2000, COUNT: 1 });
    await sleep(50);
    await client.xAdd('live', '*', { hello: 'world' });
    const res = await pending;
    assert(res && res[0].messages[0].message.hello === 'world', 'blocking xread');
    await blocked.quit();
  });

  await section('lock', async () => {
    const LOCK_KEY = 'lock:cron:daily-report';
    const OWNER_ID = crypto.randomUUID();
    const acquire = async (owner) => (await client.set(LOCK_KEY, owner, { NX: true, PX: 30000 })) === 'OK';
    const script = `
if redis.call("get", KEYS[1]) == ARGV[1] then
return redis.call("del", KEYS[1])
else
return 0
end
`;
    assert(await acquire(OWNER_ID), 'acquire');
    assert(!(await acquire('someone-else')), 'second acquire refused');
    assert(await client.eval(script, { keys: [LOCK_KEY], arguments: ['stranger'] }) === 0, 'stranger release');
    assert(await client.eval(script, { keys: [LOCK_KEY], arguments: [OWNER_ID] }) === 1, 'owner release');
    assert(await acquire('next'), 'free again');
  });

  await section('ratelimit', async () => {
    async function isRateLimited(userId, limit = 3, windowMs = 60000) {
      const key = `ratelimit:${userId}`;
      const now = Date.now();
      const pipeline = client.multi();
      pipeline.zRemRangeByScore(key, 0, now - windowMs);
      pipeline.zAdd(key, [{ score: now, value: `${now}-${Math.random()}` }]);
      pipeline.zCard(key);
      pipeline.expire(key, Math.ceil(windowMs / 1000));
      const results = await pipeline.exec();
      return results[2] > limit;
    }
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await isRateLimited('u1'));
    assert(JSON.stringify(verdicts) === '[false,false,false,true,true]', 'verdicts ' + verdicts);
  });

  await section('session', async () => {
    const sessionId = crypto.randomUUID();
    await client.hSet(`session:${sessionId}`, { userId: '42', role: 'admin', createdAt: Date.now().toString() });
    await client.expire(`session:${sessionId}`, 3600);
    assert(await client.hGet(`session:${sessionId}`, 'role') === 'admin', 'hget');
    const session = await client.hGetAll(`session:${sessionId}`);
    assert(session.userId === '42' && session.role === 'admin', 'hgetall');
    assert(await client.ttl(`session:${sessionId}`) > 3500, 'ttl');
  });

  await section('leaderboard', async () => {
    await client.zAdd('leaderboard', [{ score: 1500, value: 'alice' }, { score: 1200, value: 'bob' }, { score: 1700, value: 'carol' }]);
    await client.zAdd('leaderboard', [{ score: 1800, value: 'alice' }]);
    const top10 = await client.zRangeWithScores('leaderboard', 0, 9, { REV: true });
    assert(top10[0].value === 'alice' && top10[0].score === 1800 && top10.length === 3, 'top ' + JSON.stringify(top10));
    assert(await client.zRevRank('leaderboard', 'alice') === 0, 'rank');
    assert(await client.zRevRank('leaderboard', 'bob') === 2, 'rank bob');
  });

  await client.quit();
}

main().catch((err) => { console.error(err); process.exit(1); });
