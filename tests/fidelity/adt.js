// Drive twin-emulator's ADT data plane (TLS mode) with Microsoft's
// @azure/digital-twins-core 1.1.0; prints TAP. Usage: node adt.js URL
// (run with NODE_EXTRA_CA_CERTS=<the emulator's certificate>).
const path = require('path');
const { DigitalTwinsClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/digital-twins-core'));
const url = process.argv[2];
let n = 0, failed = 0, fetched = 0;
function ok(cond, name, extra) {
	n++;
	if (!cond) failed++;
	console.log(`${cond ? '' : 'not '}ok ${n} - node @azure/digital-twins-core: ${name}`);
	if (!cond && extra !== undefined) console.log('#   ' + JSON.stringify(extra));
}
async function code(p) {
	try { await p; return 'none'; } catch (e) { return `${e.statusCode} ${e.code}`; }
}
// A credential object whose getToken asks the emulator's token endpoint
// (client credentials flow), as DefaultAzureCredential would ask Entra ID.
const credential = {
	async getToken(scopes) {
		const body = new URLSearchParams({ grant_type: 'client_credentials',
			client_id: 'app-1', client_secret: 's3cret',
			scope: Array.isArray(scopes) ? scopes[0] : scopes });
		const r = await fetch(url + '/tenant-1/oauth2/v2.0/token', { method: 'POST', body,
			headers: { 'content-type': 'application/x-www-form-urlencoded' } });
		const j = await r.json();
		fetched++;
		return { token: j.access_token, expiresOnTimestamp: Date.now() + j.expires_in * 1000 };
	},
};
async function admin(p, body) {
	const r = await fetch(url + p, body ? { method: 'POST', body: JSON.stringify(body) } : {});
	return r.json();
}
const building = { '@id': 'dtmi:example:Building;1', '@type': 'Interface', '@context': 'dtmi:dtdl:context;2',
	displayName: 'Building', contents: [
		{ '@type': 'Property', name: 'name', schema: 'string' },
		{ '@type': 'Property', name: 'floors', schema: 'integer' },
		{ '@type': 'Relationship', name: 'contains', properties: [{ name: 'since', schema: 'integer' }] }] };
const room = { '@id': 'dtmi:example:Room;1', '@type': 'Interface', '@context': 'dtmi:dtdl:context;2',
	contents: [{ '@type': 'Property', name: 'temp', schema: 'double' }] };
const office = { '@id': 'dtmi:example:Office;1', '@type': 'Interface', '@context': 'dtmi:dtdl:context;2',
	extends: 'dtmi:example:Room;1', contents: [{ '@type': 'Property', name: 'desks', schema: 'integer' }] };
(async () => {
	const c = new DigitalTwinsClient(url, credential);
	const created = await c.createModels([building, room, office]);
	ok(created.length === 3 && created[0].id === building['@id'] && created[0].displayName.en === 'Building', 'createModels 201', created);
	ok(await code(c.createModels([room])) === '409 ModelIdAlreadyExists', 'createModels duplicate 409');
	const m = await c.getModel(office['@id'], true);
	ok(m.model && m.model.extends === room['@id'], 'getModel with definition');
	let nm = 0; for await (const x of c.listModels()) nm++;
	ok(nm === 3, 'listModels', nm);
	const b1 = await c.upsertDigitalTwin('b1', JSON.stringify({ $metadata: { $model: building['@id'] }, name: 'HQ', floors: 3 }));
	ok(b1.body.$dtId === 'b1' && b1.etag === b1.body.$etag && b1.body.$metadata.name.lastUpdateTime, 'upsertDigitalTwin 200 with $etag and $metadata', b1);
	ok(await code(c.upsertDigitalTwin('b1', JSON.stringify({ $metadata: { $model: building['@id'] } }), { ifNoneMatch: '*' })) === '412 PreconditionFailed', 'If-None-Match: * on an existing twin 412');
	ok(await code(c.upsertDigitalTwin('b2', JSON.stringify({ $metadata: { $model: building['@id'] }, height: 3 }))) === '400 ValidationFailed', 'unknown property 400 ValidationFailed');
	for (let i = 1; i <= 5; i++)
		await c.upsertDigitalTwin('r' + i, JSON.stringify({ $metadata: { $model: i % 2 ? office['@id'] : room['@id'] }, temp: 20 + i }));
	const g = await c.getDigitalTwin('b1');
	ok(g.body.name === 'HQ' && g.etag === b1.etag, 'getDigitalTwin with ETag');
	ok(await code(c.getDigitalTwin('nope')) === '404 DigitalTwinNotFound', 'getDigitalTwin missing 404');
	const up = await c.updateDigitalTwin('b1', [{ op: 'replace', path: '/floors', value: 4 }], { ifMatch: b1.etag });
	ok(up.etag && up.etag !== b1.etag, 'updateDigitalTwin with If-Match 204');
	ok(await code(c.updateDigitalTwin('b1', [{ op: 'replace', path: '/floors', value: 5 }], { ifMatch: b1.etag })) === '412 PreconditionFailed', 'updateDigitalTwin with stale etag 412');
	ok(await code(c.updateDigitalTwin('b1', [{ op: 'remove', path: '/nothere' }])) === '400 JsonPatchInvalid', 'remove of an unset property 400');
	const rel = await c.upsertRelationship('b1', 'b1-r1', { $relationshipName: 'contains', $targetId: 'r1', since: 2020 });
	ok(rel.body.$sourceId === 'b1' && rel.body.$etag, 'upsertRelationship 200');
	await c.upsertRelationship('b1', 'b1-r2', { $relationshipName: 'contains', $targetId: 'r2' });
	ok(await code(c.upsertRelationship('b1', 'x', { $relationshipName: 'contains', $targetId: 'ghost' })) === '404 TargetDigitalTwinNotFound', 'relationship to a missing twin 404');
	ok(await code(c.upsertRelationship('b1', 'b1-rx', { $relationshipName: 'contains', $targetId: 'r3', color: 'red' })) === '400 ValidationFailed', 'undeclared relationship property 400');
	const gr = await c.getRelationship('b1', 'b1-r1');
	ok(gr.body.since === 2020, 'getRelationship');
	await c.updateRelationship('b1', 'b1-r1', [{ op: 'replace', path: '/since', value: 2021 }]);
	ok((await c.getRelationship('b1', 'b1-r1')).body.since === 2021, 'updateRelationship');
	let out = 0; for await (const x of c.listRelationships('b1')) out++;
	ok(out === 2, 'listRelationships', out);
	let inc = []; for await (const x of c.listIncomingRelationships('r1')) inc.push(x);
	ok(inc.length === 1 && inc[0].sourceId === 'b1', 'listIncomingRelationships', inc);
	ok(await code(c.deleteDigitalTwin('b1')) === '400 RelationshipsNotDeleted', 'delete twin with relationships 400');
	const all = []; for await (const t of c.queryTwins('SELECT * FROM digitaltwins')) all.push(t.$dtId);
	ok(all.length === 6, 'queryTwins all', all);
	const pages = []; for await (const p of c.queryTwins("SELECT * FROM digitaltwins T WHERE IS_OF_MODEL(T, 'dtmi:example:Room;1')", 2).byPage({ maxPageSize: 2 })) pages.push(p.value.length);
	ok(pages.join(',') === '2,2,1', 'queryTwins IS_OF_MODEL with continuation tokens', pages);
	const one = []; for await (const t of c.queryTwins("SELECT * FROM digitaltwins WHERE $dtId = 'r3'")) one.push(t.$dtId);
	ok(one.join() === 'r3', 'queryTwins $dtId');
	const eq = []; for await (const t of c.queryTwins("SELECT * FROM digitaltwins WHERE temp = 24")) eq.push(t.$dtId);
	ok(eq.join() === 'r4', 'queryTwins property equality', eq);
	// per-twin rate limit: the client honours Retry-After and retries
	await admin('/_admin/faults', { twin_rate: 2 });
	await fetch(url + '/_admin/stats', { method: 'DELETE' });
	for (let i = 0; i < 3; i++)
		await c.updateDigitalTwin('r1', [{ op: 'replace', path: '/temp', value: 30 + i }]);
	await admin('/_admin/faults', { twin_rate: 0 });
	const st = await admin('/_admin/stats');
	ok((st.by_status['429'] || 0) >= 1 && (await c.getDigitalTwin('r1')).body.temp === 32, '429 with Retry-After retried by the client', st.by_status);
	await c.deleteRelationship('b1', 'b1-r1');
	await c.deleteRelationship('b1', 'b1-r2');
	ok(await code(c.deleteDigitalTwin('b1')) === 'none', 'deleteDigitalTwin after its relationships');
	ok(await code(c.getDigitalTwin('b1')) === '404 DigitalTwinNotFound', 'deleted twin is gone');
	ok(await code(c.deleteModel(room['@id'])) === '409 ModelReferencesNotDeleted', 'deleteModel of an extended model 409');
	await c.decomissionModel(building['@id']);
	ok((await c.getModel(building['@id'])).decommissioned === true, 'decommission model');
	ok(fetched >= 1, 'token fetched from the emulator');
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
})().catch((e) => { console.log(`not ok ${n + 1} - node @azure/digital-twins-core: unexpected error: ${e.statusCode || ''} ${e.code || ''} ${e.message}`.replace(/\n/g, ' ')); console.log(`1..${n + 1}`); process.exit(1); });
