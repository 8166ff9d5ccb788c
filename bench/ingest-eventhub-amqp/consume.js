// Microsoft's EventHubConsumerClient reading every partition from the
// earliest event until N events came; each event written to stdout as one
// JSON line (body, properties, system properties, partition, offset,
// sequence number), as ingest-eventhub writes its records.
// Usage: node consume.js CONNECTION-STRING N
const path = require('path');
const { EventHubConsumerClient, earliestEventPosition } = require(path.join(process.env.TP_NODE_MODULES, '@azure/event-hubs'));
const [cs, n] = process.argv.slice(2);
const want = Number(n);
const client = new EventHubConsumerClient('$Default', cs);
let got = 0, buf = [], done = false;
const flush = () => { if (buf.length) { process.stdout.write(buf.join('')); buf = []; } };
const sub = client.subscribe({
	processEvents: async (events, ctx) => {
		for (const e of events) {
			buf.push(JSON.stringify({ body: e.body, properties: e.properties,
				system: { 'content-type': e.contentType, ...e.systemProperties },
				_meta: { src: { partition: Number(ctx.partitionId), offset: e.sequenceNumber,
					amqpOffset: e.offset, timestamp: new Date(e.enqueuedTimeUtc).toISOString() } } }) + '\n');
		}
		got += events.length;
		if (buf.length > 1000) flush();
		if (got >= want && !done) {
			done = true;
			flush();
			await sub.close();
			await client.close();
		}
	},
	processError: async (err) => { console.error(err.message); },
}, { startPosition: earliestEventPosition, maxBatchSize: 300, maxWaitTimeInSeconds: 1 });
