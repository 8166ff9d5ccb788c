// bench/streaming/sdk-functions.js - the reference design's two Functions,
// run with Microsoft's @azure/cosmos on IoT Hub events as ingest-eventhub
// writes them (NDJSON: {"body","properties","system","_meta"}), against
// container c of database bench (partition key /deviceId).
//
//   node sdk-functions.js URL FILE CONCURRENCY
//
// Per event, what the reference Functions do:
//   updateTwin (twinChangeNotification): read the stored document (a new
//     one when missing), overwrite properties.desired and/or
//     properties.reported with the event's *partial* twin, upsert (no etag,
//     no version check);
//   createDeviceIdentity / createModuleIdentity: create the document from
//     the event's twin (id = device id);
//   deleteDeviceIdentity / deleteModuleIdentity: delete it (404 ignored).
// Anything else is skipped. The Functions ran per Event Hubs batch and did
// not await the upsert; here every operation is awaited (to know when all
// are done), the events of one device in input order, CONCURRENCY devices
// in flight (the scheduling of bench/lib/cosmos-sdk.js, as sdk-merge.js).
// Prints {"ok","skipped","failed","requests","wall_s"} on stdout.
const sdk = require('../lib/cosmos-sdk.js');
const [url, file, conc] = [process.argv[2], process.argv[3], +process.argv[4] || 64];
const c = sdk.container(url);

let ok = 0, skipped = 0, requests = 0;
async function apply(e) {
	const p = e.properties || {}, b = e.body || {};
	const dev = p.deviceId, id = p.moduleId ? `${dev}/${p.moduleId}` : dev;
	switch (p.opType) {
	case 'updateTwin': {
		const it = c.item(id, dev);
		requests++;
		const r = await it.read();
		const d = r.resource || { id, deviceId: dev, properties: {} };
		d.properties = d.properties || {};
		const tp = b.properties || {};
		if (tp.desired) d.properties.desired = tp.desired;
		if (tp.reported) d.properties.reported = tp.reported;
		requests++;
		await c.items.upsert(d);
		return ok++;
	}
	case 'createDeviceIdentity':
	case 'createModuleIdentity':
		requests++;
		await c.items.create({ ...b, id, deviceId: dev });
		return ok++;
	case 'deleteDeviceIdentity':
	case 'deleteModuleIdentity':
		requests++;
		try { await c.item(id, dev).delete(); } catch (x) { if (x.code !== 404) throw x; }
		return ok++;
	default:
		return skipped++;
	}
}
// one device's events (a module is a device of its own) in input order
const deviceOf = (e) => {
	const p = e.properties || {};
	return p.moduleId ? `${p.deviceId}/${p.moduleId}` : p.deviceId;
};
(async () => {
	const r = await sdk.run(file, conc, deviceOf, apply);
	console.log(JSON.stringify({ ok, skipped, failed: r.failed, requests, wall_s: r.wall_s }));
})();
