// Drive twin-emulator's IoT Hub service API with Microsoft's npm
// azure-iothub (the service SDK's Registry and Twin), as it reaches a real
// hub at https://HUB.azure-devices.net: requests for that host are sent to
// the emulator (TLS name localhost, Host header kept), SAS tokens are the
// SDK's own. Prints TAP. Usage: node iothub.js PORT HUB KEY
'use strict';
const path = require('path');
const mods = process.env.TP_NODE_MODULES || path.join(__dirname, '../.node/node_modules');
const https = require('https');
const [port, hub, key] = process.argv.slice(2);
const host = hub + '.azure-devices.net';
const real = https.request;
https.request = function (opts, cb) {
	if (opts && opts.host === host) {
		opts = Object.assign({}, opts, { host: '127.0.0.1', port: Number(port),
			servername: 'localhost', headers: Object.assign({ Host: host }, opts.headers) });
	}
	return real.call(https, opts, cb);
};
const { Registry } = require(path.join(mods, 'azure-iothub'));

let n = 0, failed = 0;
function ok(c, name) { n++; if (!c) failed++; console.log((c ? 'ok ' : 'not ok ') + n + ' - azure-iothub: ' + name); }

(async () => {
	const reg = Registry.fromConnectionString(`HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=${key}`);
	const created = (await reg.create({ deviceId: 'n1' })).responseBody;
	ok(created.deviceId === 'n1' && created.authentication.symmetricKey.primaryKey, 'Registry.create');
	for (const id of ['n2', 'n3', 'n4']) await reg.create({ deviceId: id });
	const got = (await reg.get('n1')).responseBody;
	ok(got.etag === created.etag && got.status === 'enabled', 'Registry.get');
	let twin = (await reg.getTwin('n1')).responseBody;
	ok(twin.deviceId === 'n1' && twin.version === 1, 'Registry.getTwin');
	await twin.update({ tags: { site: 'a' }, properties: { desired: { p: 1, o: { x: 1 } } } });
	twin = (await reg.getTwin('n1')).responseBody;
	ok(twin.tags.site === 'a' && twin.properties.desired.p === 1 && twin.version === 2, 'Twin.update merges tags and desired');
	await reg.updateTwin('n1', { properties: { desired: { p: null, o: { y: 2 } } } }, twin.etag);
	twin = (await reg.getTwin('n1')).responseBody;
	ok(twin.properties.desired.p === undefined && twin.properties.desired.o.x === 1 && twin.properties.desired.o.y === 2 &&
	    twin.properties.desired.$version === 3, 'Registry.updateTwin with the etag: null removes, objects merge');
	let stale = null;
	try { await reg.updateTwin('n1', { tags: { z: 1 } }, '"AAAAAAAAAAE="'); } catch (e) { stale = e; }
	ok(stale && stale.constructor.name === 'InvalidEtagError', 'a stale etag (412) is InvalidEtagError: ' + (stale && stale.constructor.name));
	const q = reg.createQuery('SELECT * FROM devices', 3);
	const ids = [];
	let pages = 0;
	while (q.hasMoreResults && pages < 10) {
		const r = await q.nextAsTwin();
		pages++;
		for (const t of r.result) ids.push(t.deviceId);
	}
	ok(ids.join() === 'n1,n2,n3,n4' && pages === 2, 'query pages by continuation: ' + ids.join() + ' in ' + pages);
	const w = (await reg.createQuery("SELECT * FROM devices WHERE tags.site = 'a'").nextAsTwin()).result;
	ok(w.length === 1 && w[0].deviceId === 'n1', 'query WHERE on tags');
	await reg.addModule({ deviceId: 'n1', moduleId: 'm1' });
	const mt = (await reg.getModuleTwin('n1', 'm1')).responseBody;
	ok(mt.moduleId === 'm1' && mt.deviceId === 'n1', 'Registry.addModule and getModuleTwin');
	let missing = null;
	try { await reg.get('nope'); } catch (e) { missing = e; }
	ok(missing && missing.constructor.name === 'DeviceNotFoundError', 'a missing device is DeviceNotFoundError: ' + (missing && missing.constructor.name));
	await reg.delete('n4');
	missing = null;
	try { await reg.get('n4'); } catch (e) { missing = e; }
	ok(missing !== null, 'Registry.delete');
	const bad = Registry.fromConnectionString(`HostName=${host};SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
	let unauth = null;
	try { await bad.get('n1'); } catch (e) { unauth = e; }
	ok(unauth && unauth.constructor.name === 'UnauthorizedError', 'a wrong key is UnauthorizedError: ' + (unauth && unauth.constructor.name));
})().catch((e) => { ok(false, 'unexpected error: ' + (e && e.stack || e)); }).finally(() => {
	console.log('1..' + n);
	process.exit(failed ? 1 : 0);
});
