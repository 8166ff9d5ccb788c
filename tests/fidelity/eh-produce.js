// Send IoT Hub-shaped events with Microsoft's @azure/event-hubs 6.x.
// Usage: node eh-produce.js CONNECTION-STRING DEVICES ROUNDS [FIRST-ROUND]
// Each device gets ROUNDS twin changes (version 1..ROUNDS), keyed by the
// device id (so one device stays in one partition); typed application
// properties as IoT Hub routing sets them. Prints "sent N".
const path = require('path');
const { EventHubProducerClient } = require(path.join(process.env.TP_NODE_MODULES, '@azure/event-hubs'));
const [cs, devices, rounds, first] = process.argv.slice(2);
(async () => {
	const prod = new EventHubProducerClient(cs);
	let n = 0;
	const r0 = Number(first || 1);
	for (let r = r0; r < r0 + Number(rounds); r++) {
		for (let d = 0; d < Number(devices); d++) {
			const dev = `dev-${d}`;
			const b = await prod.createBatch({ partitionKey: dev });
			b.tryAdd({
				body: { version: r, properties: { reported: { temp: 20 + r, $version: r } } },
				contentType: 'application/json',
				properties: {
					'iothub-message-schema': 'twinChangeNotification', opType: 'updateTwin',
					hubName: 'hub1', deviceId: dev, operationTimestamp: '2026-01-02T03:04:05.678Z',
					round: r, big: 9007199254740991, ratio: 0.5, flag: true,
				},
			});
			await prod.sendBatch(b);
			n++;
		}
	}
	await prod.close();
	console.log(`sent ${n}`);
})().catch((e) => { console.error(e); process.exit(1); });
