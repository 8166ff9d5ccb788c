// bench/push-adt/sdk-upsert.js - Microsoft's @azure/digital-twins-core
// upserts every twin of an NDJSON file (the push-adt input) with N calls in
// flight, its best concurrent use (one client, a promise pool).
// Usage: node sdk-upsert.js URL FILE CONCURRENCY (NODE_EXTRA_CA_CERTS set)
const path = require('path');
const fs = require('fs');
const { DigitalTwinsClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/digital-twins-core'));
const [url, file, conc] = [process.argv[2], process.argv[3], +process.argv[4] || 32];
const credential = {
	async getToken(scopes) {
		const body = new URLSearchParams({ grant_type: 'client_credentials',
			client_id: 'bench', client_secret: 'bench-secret',
			scope: Array.isArray(scopes) ? scopes[0] : scopes });
		const r = await fetch(url + '/bench/oauth2/v2.0/token', { method: 'POST', body });
		const j = await r.json();
		return { token: j.access_token, expiresOnTimestamp: Date.now() + j.expires_in * 1000 };
	},
};
const client = new DigitalTwinsClient(url, credential);
const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
let next = 0, ok = 0, failed = 0;
async function worker() {
	while (next < lines.length) {
		const t = JSON.parse(lines[next++]);
		const id = t.$dtId;
		delete t.$dtId;
		try { await client.upsertDigitalTwin(id, JSON.stringify(t)); ok++; } catch (e) { failed++; }
	}
}
(async () => {
	const t0 = Date.now();
	await Promise.all(Array.from({ length: conc }, worker));
	console.log(JSON.stringify({ ok, failed, wall_s: (Date.now() - t0) / 1000 }));
})();
