// bench/streaming/check-docs.js - check the final documents of container c
// of database bench after the events of tests/tools/eh-produce.c
// (DEVICES devices: a createDeviceIdentity at version 1, then ROUNDS
// updateTwin rounds r = 0.. with version r + 2 and reported.temp
// r * 10 + device number) were applied.
//
//   node check-docs.js URL DEVICES ROUNDS [versioned]
//
// Every dev-N: properties.reported is the last round's, desired is the
// create's ({"$version":1}); "versioned" (merges guarded by the twin
// version): the document's version is the last one too (the reference
// Functions leave it at the create's). Prints {"docs","checked","bad"} and
// exits 1 when a document is missing or wrong or the count is off.
const path = require('path');
const { CosmosClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/cosmos'));
const [url, devices, rounds, versioned] = [process.argv[2], +process.argv[3], +process.argv[4], process.argv[5] === 'versioned'];
const client = new CosmosClient({ endpoint: url, key: process.env.COSMOS_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
// equal objects of scalars, whatever the key order
const same = (a, b) => !!a && typeof a === 'object' && Object.keys(a).length === Object.keys(b).length &&
	Object.keys(b).every((k) => a[k] === b[k]);
(async () => {
	const { resources } = await client.database('bench').container('c').items.readAll().fetchAll();
	const byId = new Map(resources.map((d) => [d.id, d]));
	let bad = 0, checked = 0;
	const last = rounds + 1;
	for (let i = 0; i < devices; i++) {
		const d = byId.get(`dev-${i}`);
		const rep = d && d.properties && d.properties.reported;
		const des = d && d.properties && d.properties.desired;
		const want = rounds > 0 ? { temp: (rounds - 1) * 10 + i, $version: last } : { $version: 1 };
		const good = same(rep, want) && same(des, { $version: 1 }) &&
			(!versioned || d.version === last);
		if (!good) {
			if (bad++ < 3) console.error('bad document dev-' + i + ': ' + JSON.stringify(d));
		}
		checked++;
	}
	// the devices, plus "types" (one updateTwin event with every AMQP type)
	if (resources.length !== devices + 1) bad++;
	console.log(JSON.stringify({ docs: resources.length, checked, bad }));
	process.exit(bad ? 1 : 0);
})().catch((x) => { console.error(x.message); process.exit(1); });
