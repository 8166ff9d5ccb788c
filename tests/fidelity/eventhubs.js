// Drive twin-emulator's Event Hubs AMQP endpoint with Microsoft's
// @azure/event-hubs 6.x; prints TAP. Usage: node eventhubs.js AMQP-URL KEY
// (amqps:// with NODE_EXTRA_CA_CERTS=<the emulator's certificate>, or
// amqp:// for the UseDevelopmentEmulator=true form).
const path = require('path');
const eh = require(path.join(process.env.TP_NODE_MODULES, '@azure/event-hubs'));
const { EventHubProducerClient, EventHubConsumerClient, earliestEventPosition } = eh;
const [url, key] = process.argv.slice(2);
const u = new URL(url.replace(/^amqps?:/, 'http:'));
const plain = url.startsWith('amqp:');
const cs = (k) => `Endpoint=sb://localhost:${u.port}/;SharedAccessKeyName=RootManageSharedAccessKey;` +
	`SharedAccessKey=${k};EntityPath=hub1` + (plain ? ';UseDevelopmentEmulator=true' : '');
let n = 0, failed = 0;
function ok(cond, name, extra) {
	n++;
	if (!cond) failed++;
	console.log(`${cond ? '' : 'not '}ok ${n} - node @azure/event-hubs: ${name}`);
	if (!cond && extra !== undefined) console.log('#   ' + JSON.stringify(extra));
}
const timer = setTimeout(() => { console.log('not ok - timed out'); process.exit(1); }, 240000);
// receive until pred(events) holds (or the deadline), then close the subscription
function collect(client, partitionId, opts, pred, ms = 60000) {
	return new Promise((resolve) => {
		const got = [], errors = [];
		let sub;
		const done = async () => { clearTimeout(t); await sub.close(); resolve({ got, errors }); };
		const t = setTimeout(done, ms);
		const handlers = {
			processEvents: async (evs, ctx) => {
				for (const e of evs) got.push({ ...e, partitionId: ctx.partitionId });
				if (pred(got)) done();
			},
			processError: async (err) => { errors.push(err); if (opts.stopOnError) done(); },
			processClose: async (reason) => {
				if (reason === 'OwnershipLost') { errors.push({ code: reason }); if (opts.stopOnError) done(); }
			},
		};
		const o = { maxWaitTimeInSeconds: 1, ...opts };
		sub = partitionId === null ? client.subscribe(handlers, o) : client.subscribe(partitionId, handlers, o);
	});
}
(async () => {
	const prod = new EventHubProducerClient(cs(key));
	const props = await prod.getEventHubProperties();
	ok(props.name === 'hub1' && JSON.stringify(props.partitionIds) === '["0","1","2"]',
		'getEventHubProperties: name and partition ids', props);
	const b1 = await prod.createBatch({ partitionKey: 'dev-1' });
	for (let i = 0; i < 3; i++)
		b1.tryAdd({ body: { i, dev: 'dev-1' }, properties: { deviceId: 'dev-1', n: i, flag: true } });
	await prod.sendBatch(b1);
	const b2 = await prod.createBatch({ partitionId: '2' });
	b2.tryAdd({ body: 'to-two-a', properties: { k: 'a' } });
	b2.tryAdd({ body: 'to-two-b', properties: { k: 'b' } });
	await prod.sendBatch(b2);
	ok(true, 'sendBatch with a partition key and to a partition');
	const p2 = await prod.getPartitionProperties('2');
	ok(p2.partitionId === '2' && p2.eventHubName === 'hub1' && p2.isEmpty === false &&
		p2.lastEnqueuedSequenceNumber >= 1 && p2.beginningSequenceNumber === 0 &&
		p2.lastEnqueuedOnUtc instanceof Date && p2.lastEnqueuedOnUtc.getTime() > 0,
		'getPartitionProperties reads right', p2);

	const cons = new EventHubConsumerClient('$Default', cs(key));
	const all = await collect(cons, null, { startPosition: earliestEventPosition }, (g) => g.length >= 5);
	const byKey = all.got.filter((e) => e.partitionKey === 'dev-1');
	ok(all.got.length === 5, 'subscribe over all partitions receives the 5 events', all.got.length);
	ok(byKey.length === 3 && new Set(byKey.map((e) => e.partitionId)).size === 1 &&
		byKey.map((e) => e.body.i).join() === '0,1,2',
		'one partition key: one partition, in order', byKey.map((e) => [e.partitionId, e.body]));
	ok(byKey.length === 3 && byKey[1].properties.deviceId === 'dev-1' && byKey[1].properties.n === 1 &&
		byKey[1].properties.flag === true, 'application properties come back', byKey[1] && byKey[1].properties);
	const two = all.got.filter((e) => e.partitionId === '2').map((e) => e.body);
	ok(two.join() === 'to-two-a,to-two-b', 'events sent to partition 2 are there', two);
	ok(all.got.every((e) => typeof e.sequenceNumber === 'number' && e.enqueuedTimeUtc instanceof Date &&
		e.offset !== undefined), 'sequence numbers, offsets and enqueued times are set');

	const after = await collect(cons, '2', { startPosition: { sequenceNumber: 0, isInclusive: false } },
		(g) => g.length >= 1, 30000);
	ok(after.got.length === 1 && after.got[0].body === 'to-two-b' && after.got[0].sequenceNumber === 1,
		'start position: after sequence number 0 (exclusive)', after.got.map((e) => e.body));
	const incl = await collect(cons, '2', { startPosition: { sequenceNumber: 1, isInclusive: true } },
		(g) => g.length >= 1, 30000);
	ok(incl.got.length === 1 && incl.got[0].body === 'to-two-b', 'start position: sequence number 1 inclusive',
		incl.got.map((e) => e.body));
	const first = all.got.find((e) => e.partitionId === '2');
	const off = await collect(cons, '2', { startPosition: { offset: first.offset } }, (g) => g.length >= 1, 30000);
	ok(off.got.length === 1 && off.got[0].body === 'to-two-b', 'start position: after an offset',
		off.got.map((e) => e.body));

	// epoch takeover: a higher owner level detaches the older receiver
	const c1 = new EventHubConsumerClient('$Default', cs(key));
	const c2 = new EventHubConsumerClient('$Default', cs(key));
	// the second starts once the first reads (it is attached): an event, not a delay
	let reading;
	const readingP = new Promise((r) => { reading = r; });
	const p1 = collect(c1, '2', { startPosition: earliestEventPosition, ownerLevel: 1, stopOnError: true },
		(g) => { if (g.length >= 2) reading(); return false; }, 90000);
	await Promise.race([readingP, new Promise((r) => setTimeout(r, 60000))]);
	const p2r = await collect(c2, '2', { startPosition: earliestEventPosition, ownerLevel: 2 },
		(g) => g.length >= 2, 60000);
	const r1 = await p1;
	ok(p2r.got.length === 2, 'the higher epoch receiver reads', p2r.got.length);
	ok(r1.errors.some((e) => e.code === 'ReceiverDisconnectedError' || e.code === 'OwnershipLost' ||
		/receiver-disconnected|epoch/i.test(String(e.message))),
		'the lower epoch receiver is disconnected', r1.errors.map((e) => [e.code, e.message]));
	await c1.close();
	await c2.close();

	const bad = new EventHubProducerClient(cs('not-the-key'), { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
	let err = null;
	try { await bad.getEventHubProperties(); } catch (e) { err = e; }
	ok(err !== null && /401|unauthori|signature/i.test(String(err.code) + ' ' + String(err.message)),
		'a wrong SAS key is refused', err && [err.code, err.message]);
	await bad.close();
	await cons.close();
	await prod.close();
	clearTimeout(timer);
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
})().catch((e) => { console.log(`not ok - ${e.stack}`); process.exit(1); });
