// bench/lib/cosmos-sdk.js - what the @azure/cosmos bench scripts share
// (bench/push-cosmos/sdk-merge.js, bench/streaming/sdk-functions.js):
// container c of database bench with the key in COSMOS_KEY, and the
// scheduling: the events of an NDJSON file applied per device in input
// order, CONCURRENCY devices in flight.
'use strict';
const path = require('path');
const fs = require('fs');
const { CosmosClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/cosmos'));

// container(URL): the container c of database bench at the account URL
exports.container = (url) => new CosmosClient({
	endpoint: url, key: process.env.COSMOS_KEY,
	connectionPolicy: { enableEndpointDiscovery: false },
}).database('bench').container('c');

// run(FILE, CONCURRENCY, deviceOf, apply): await apply(e) for every event,
// one device's events in input order; an apply that throws counts as
// failed. Resolves to { failed, wall_s }.
exports.run = async (file, conc, deviceOf, apply) => {
	const byDev = new Map();
	for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
		if (!l) continue;
		const e = JSON.parse(l), id = deviceOf(e);
		if (!byDev.has(id)) byDev.set(id, []);
		byDev.get(id).push(e);
	}
	const devs = [...byDev.values()];
	let next = 0, failed = 0;
	async function worker() {
		while (next < devs.length) {
			for (const e of devs[next++]) {
				try { await apply(e); } catch (x) { failed++; }
			}
		}
	}
	const t0 = Date.now();
	await Promise.all(Array.from({ length: conc }, worker));
	return { failed, wall_s: (Date.now() - t0) / 1000 };
};
