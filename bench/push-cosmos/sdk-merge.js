// bench/push-cosmos/sdk-merge.js - Microsoft's @azure/cosmos applies the
// merge events of an NDJSON file (the push-cosmos input) to container c of
// database bench, N documents in flight.
//
//   node sdk-merge.js URL FILE CONCURRENCY MODE
//
// MODE "merge": the best that SDK allows for a correct, atomic merge: per
// device in input order, read, drop a stale version, RFC 7396 merge in
// JS, replace with IfMatch (412: again), create when missing (409: again).
// MODE "reference": the reference Functions: read, overwrite
// properties.reported with the event's partial twin, upsert (no etag, no
// version check).
const sdk = require('../lib/cosmos-sdk.js');
const [url, file, conc, mode] = [process.argv[2], process.argv[3], +process.argv[4] || 32, process.argv[5] || 'merge'];
const c = sdk.container(url);
function mp(t, p) {
	if (p === null || typeof p !== 'object' || Array.isArray(p)) return p;
	if (t === null || typeof t !== 'object' || Array.isArray(t)) t = {};
	for (const [k, v] of Object.entries(p)) {
		if (v === null) delete t[k]; else t[k] = mp(t[k], v);
	}
	return t;
}
function body(e) {
	const b = { ...e };
	delete b.$op; delete b.$version; delete b._meta;
	return b;
}
let ok = 0, stale = 0, requests = 0;
async function merge(e) {
	for (;;) {
		const it = c.item(e.id, e.deviceId);
		requests++;
		const r = await it.read();
		if (r.statusCode === 404) {
			const d = mp({}, body(e)); d._v = e.$version;
			try { requests++; await c.items.create(d); return ok++; } catch (x) { if (x.code === 409) continue; throw x; }
		}
		if (r.resource._v >= e.$version) return stale++;
		const d = mp(r.resource, body(e)); d._v = e.$version;
		try {
			requests++;
			await it.replace(d, { accessCondition: { type: 'IfMatch', condition: r.etag } });
			return ok++;
		} catch (x) { if (x.code === 412 || x.code === 404) continue; throw x; }
	}
}
async function reference(e) {
	const it = c.item(e.id, e.deviceId);
	requests++;
	const r = await it.read();
	const d = r.resource || { id: e.id, deviceId: e.deviceId, properties: {} };
	d.properties = d.properties || {};
	d.properties.reported = (e.properties || {}).reported;
	requests++;
	await c.items.upsert(d);
	ok++;
}
(async () => {
	const r = await sdk.run(file, conc, (e) => e.id, mode === 'reference' ? reference : merge);
	console.log(JSON.stringify({ ok, stale, failed: r.failed, requests, wall_s: r.wall_s }));
})();
