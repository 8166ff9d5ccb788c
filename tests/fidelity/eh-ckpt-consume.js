// Read events with Microsoft's EventHubConsumerClient and
// BlobCheckpointStore (@azure/eventhubs-checkpointstore-blob 2.x), one
// event at a time, checkpointing each one after printing it.
// Usage: node eh-ckpt-consume.js EH-CS STORAGE-CS CONTAINER GROUP MAX IDLE-MS
// Prints "P SEQ" per event, stops after MAX events (0: no limit) or when
// no event came for IDLE-MS, then prints "done N" and the checkpoint
// layout it left ("blob NAME offset=O sequencenumber=S" / "ownerid=...").
const path = require('path');
const m = process.env.TP_NODE_MODULES;
const { EventHubConsumerClient, earliestEventPosition } = require(path.join(m, '@azure/event-hubs'));
const { BlobCheckpointStore } = require(path.join(m, '@azure/eventhubs-checkpointstore-blob'));
const { ContainerClient } = require(path.join(m, '@azure/storage-blob'));
const [ehcs, stcs, container, group, max, idle] = process.argv.slice(2);
(async () => {
	const cc = new ContainerClient(stcs, container);
	await cc.createIfNotExists();
	const store = new BlobCheckpointStore(cc);
	const client = new EventHubConsumerClient(group, ehcs, store, {
		loadBalancingOptions: { strategy: 'greedy', updateIntervalInMs: 1000 },
	});
	const limit = Number(max);
	let n = 0, ck = 0, last = Date.now();
	const sub = client.subscribe({
		processEvents: async (events, ctx) => {
			for (const ev of events) {
				/* no await between the test and the count: the
				 * partitions' handlers interleave only at awaits */
				if (limit > 0 && n >= limit)
					return;	/* not handled: not checkpointed */
				n++;
				console.log(`${ctx.partitionId} ${ev.sequenceNumber}`);
				await ctx.updateCheckpoint(ev);
				ck++;
				last = Date.now();
			}
		},
		processError: async (err) => { console.error(`error: ${err.message}`); },
	}, { startPosition: earliestEventPosition, maxBatchSize: 1, maxWaitTimeInSeconds: 1 });
	/* bounded: at most 10 minutes; idle counted from the first event
	 * (claiming partitions takes a while), at most 60 s without one */
	for (let i = 0; i < 6000 && !(limit > 0 && ck >= limit); i++) {
		if (n > 0 ? Date.now() - last >= Number(idle) : Date.now() - last >= 60000)
			break;
		await new Promise((r) => setTimeout(r, 100));
	}
	await sub.close();
	await client.close();
	console.log(`done ${n}`);
	for await (const b of cc.listBlobsFlat({ includeMetadata: true }))
		console.log(`blob ${b.name} ${Object.entries(b.metadata || {}).map(([k, v]) => `${k}=${v}`).join(' ')}`);
})().catch((e) => { console.error(e); process.exit(1); });
