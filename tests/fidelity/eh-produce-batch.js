// Fill an event hub with N IoT Hub-shaped twin-change events, in batches
// (as full as the SDK allows), round robin over the partitions.
// Usage: node eh-produce-batch.js CONNECTION-STRING N [FIRST] ; prints
// "sent N". (bench/ingest-eventhub-amqp, t8104)
const path = require('path');
const { EventHubProducerClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/event-hubs'));
const [cs, n, first] = process.argv.slice(2);
(async () => {
	const prod = new EventHubProducerClient(cs);
	const ids = await prod.getPartitionIds();
	let i = Number(first || 0), end = i + Number(n), sent = 0, p = 0;
	while (i < end) {
		const b = await prod.createBatch({ partitionId: ids[p++ % ids.length] });
		while (i < end) {
			const dev = `dev-${i % 5000}`;
			if (!b.tryAdd({
				body: { version: i, properties: { reported: { temp: i % 40, $version: i } } },
				contentType: 'application/json',
				properties: { 'iothub-message-schema': 'twinChangeNotification', opType: 'updateTwin',
					hubName: 'hub1', deviceId: dev, operationTimestamp: '2026-01-02T03:04:05.678Z' },
			})) break;
			i++;
		}
		await prod.sendBatch(b);
		sent += b.count;
	}
	await prod.close();
	console.log(`sent ${sent}`);
})().catch((e) => { console.error(e); process.exit(1); });
