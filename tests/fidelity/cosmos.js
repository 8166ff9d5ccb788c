// Drive twin-emulator with Microsoft's @azure/cosmos (4.9.x): prints one
// TAP line per check. Usage: node cosmos.js URL
const path = require('path');
const { CosmosClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/cosmos'));
const url = process.argv[2];
const key = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';
let n = 0, failed = 0;
function ok(cond, name, extra) {
	n++;
	if (!cond) failed++;
	console.log(`${cond ? '' : 'not '}ok ${n} - node @azure/cosmos: ${name}`);
	if (!cond && extra !== undefined) console.log('#   ' + JSON.stringify(extra));
}
async function status(p) {
	try { await p; return 0; } catch (e) { return e.code; }
}
async function admin(p, body) {
	const r = await fetch(url + p, body ? { method: 'POST', body: JSON.stringify(body) } : {});
	return r.json();
}
(async () => {
	const client = new CosmosClient({ endpoint: url, key,
		connectionPolicy: { enableEndpointDiscovery: false } });
	const { database } = await client.databases.createIfNotExists({ id: 'db1' });
	ok(database.id === 'db1', 'database createIfNotExists');
	const { container } = await database.containers.createIfNotExists({
		id: 'twins', partitionKey: { paths: ['/deviceId'] } });
	ok(container.id === 'twins', 'container createIfNotExists');
	const c1 = await container.items.create({ id: 'd1', deviceId: 'dev-1', v: 1 });
	ok(c1.statusCode === 201 && c1.resource._etag && c1.resource._ts, 'create 201 with _etag/_ts', c1.statusCode);
	ok(c1.requestCharge > 0, 'request charge reported');
	ok(await status(container.items.create({ id: 'd1', deviceId: 'dev-1' })) === 409, 'duplicate create 409');
	const u1 = await container.items.upsert({ id: 'd2', deviceId: 'dev-2', v: 1 });
	ok(u1.statusCode === 201, 'upsert new 201', u1.statusCode);
	const u2 = await container.items.upsert({ id: 'd2', deviceId: 'dev-2', v: 2 });
	ok(u2.statusCode === 200 && u2.resource.v === 2, 'upsert existing 200', u2.statusCode);
	const r1 = await container.item('d1', 'dev-1').read();
	ok(r1.statusCode === 200 && r1.resource.v === 1, 'read 200');
	const r404 = await container.item('nope', 'dev-1').read();
	ok(r404.statusCode === 404, 'read missing 404', r404.statusCode);
	const rp = await container.item('d1', 'dev-1').replace({ id: 'd1', deviceId: 'dev-1', v: 5 },
		{ accessCondition: { type: 'IfMatch', condition: c1.resource._etag } });
	ok(rp.statusCode === 200 && rp.resource.v === 5, 'replace with If-Match 200');
	ok(await status(container.item('d1', 'dev-1').replace({ id: 'd1', deviceId: 'dev-1', v: 6 },
		{ accessCondition: { type: 'IfMatch', condition: c1.resource._etag } })) === 412, 'replace with stale etag 412');
	const p1 = await container.item('d1', 'dev-1').patch([
		{ op: 'add', path: '/props', value: { a: 1 } },
		{ op: 'set', path: '/props/b', value: 'x' },
		{ op: 'incr', path: '/v', value: 2 },
		{ op: 'replace', path: '/props/a', value: 3 },
		{ op: 'move', from: '/props/b', path: '/moved' },
		{ op: 'remove', path: '/props/a' }]);
	ok(p1.statusCode === 200 && p1.resource.v === 7 && p1.resource.moved === 'x' &&
		JSON.stringify(p1.resource.props) === '{}', 'patch six operations', p1.resource);
	const p2 = await container.item('d1', 'dev-1').patch({ condition: 'from c where c.v < 100 AND NOT IS_DEFINED(c.gone)',
		operations: [{ op: 'set', path: '/v', value: 8 }] });
	ok(p2.statusCode === 200 && p2.resource.v === 8, 'conditional patch true 200');
	ok(await status(container.item('d1', 'dev-1').patch({ condition: 'from c where c.v > 100',
		operations: [{ op: 'set', path: '/v', value: 9 }] })) === 412, 'conditional patch false 412');
	const ops11 = []; for (let i = 0; i < 11; i++) ops11.push({ op: 'set', path: '/x' + i, value: i });
	ok(await status(container.item('d1', 'dev-1').patch(ops11)) === 400, 'patch with 11 operations 400');
	ok(await status(container.item('d1', 'dev-1').patch([{ op: 'replace', path: '/nothere', value: 1 }])) === 400, 'patch replace of a missing path 400');
	const big = 'x'.repeat(2 * 1024 * 1024 + 10);
	ok(await status(container.items.create({ id: 'big', deviceId: 'dev-1', big })) === 413, 'item over 2 MB 413');
	const b = await container.items.batch([
		{ operationType: 'Create', resourceBody: { id: 'b1', deviceId: 'dev-3' } },
		{ operationType: 'Upsert', resourceBody: { id: 'b2', deviceId: 'dev-3' } }], 'dev-3');
	ok(b.result && b.result.length === 2 && b.result[0].statusCode === 201, 'transactional batch', b.result);
	// queries: the SDK asks for a query plan, then runs the query
	for (let i = 0; i < 7; i++) await container.items.upsert({ id: 'q' + i, deviceId: 'qdev-' + (i % 2), qv: i });
	const q1 = await container.items.query('SELECT * FROM c WHERE c.qv >= 3').fetchAll();
	ok(q1.resources.map((x) => x.id).sort().join() === 'q3,q4,q5,q6', 'cross-partition query', q1.resources.map((x) => x.id));
	const q2 = await container.items.query({ query: 'SELECT * FROM c WHERE c.qv < @m', parameters: [{ name: '@m', value: 4 }] },
		{ partitionKey: 'qdev-0' }).fetchAll();
	ok(q2.resources.map((x) => x.id).sort().join() === 'q0,q2', 'query with a parameter in one partition', q2.resources.map((x) => x.id));
	const it = container.items.query('SELECT * FROM c WHERE IS_DEFINED(c.qv)', { maxItemCount: 3 });
	const pages = []; while (it.hasMoreResults()) { const p = await it.fetchNext(); if (p.resources.length) pages.push(p.resources.length); }
	ok(pages.join() === '3,3,1', 'query pages with continuation tokens', pages);
	// throttling: the SDK retries after x-ms-retry-after-ms
	await admin('/_admin/faults', { rate: 5 });
	await fetch(url + '/_admin/stats', { method: 'DELETE' });
	let okc = 0;
	for (let i = 0; i < 12; i++) {
		const r = await container.items.upsert({ id: 't' + i, deviceId: 'dev-4', i });
		if (r.statusCode === 201) okc++;
	}
	await admin('/_admin/faults', { rate: 0 });
	const st = await admin('/_admin/stats');
	ok(okc === 12 && (st.by_status['429'] || 0) > 0, '429 answers retried by the SDK', st.by_status);
	const d = await container.item('d2', 'dev-2').delete();
	ok(d.statusCode === 204, 'delete 204');
	ok(await status(container.item('d2', 'dev-2').delete()) === 404, 'delete again 404');
	// a wrong key is refused
	const bad = new CosmosClient({ endpoint: url, key: Buffer.from('wrong key').toString('base64'),
		connectionPolicy: { enableEndpointDiscovery: false, retryOptions: { maxRetryAttemptCount: 0 } } });
	ok(await status(bad.database('db1').read()) === 401, 'wrong master key 401');
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
})().catch((e) => { console.log(`not ok ${n + 1} - node @azure/cosmos: unexpected error: ${e.code || ''} ${e.message}`.replace(/\n/g, ' ')); console.log(`1..${n + 1}`); process.exit(1); });
