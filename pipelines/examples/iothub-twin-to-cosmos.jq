# pipelines/examples/iothub-twin-to-cosmos.jq - IoT Hub twin-change and
# device-lifecycle events (as routed to Event Hubs: the message's
# application properties in .properties, its JSON body in .body) to
# push-cosmos document operations, one document per device, partition key
# /deviceId:
#
#   transform -f pipelines/examples/iothub-twin-to-cosmos.jq events.ndjson |
#     push-cosmos -d iot --container twins -p /deviceId --tombstones
#
# updateTwin carries a partial twin: a merge (null removes a property).
# replaceTwin and createDeviceIdentity carry the whole twin: an upsert.
# deleteDeviceIdentity: a delete. The twin's version guards every write.
(.properties // {}) as $p
| ($p.deviceId // .body.deviceId) as $id
| select($id != null)
| (.body // {}) as $b
| {id: $id, deviceId: $id, "$version": $b.version}
| if $p.opType == "updateTwin" then
	. + {"$op": "merge"} + ($b | {properties, tags} | with_entries(select(.value != null)))
  elif $p.opType == "replaceTwin" or $p.opType == "createDeviceIdentity" then
	. + {"$op": "upsert"} + ($b | del(.deviceId, .version, .etag, .deviceEtag))
  elif $p.opType == "deleteDeviceIdentity" then
	. + {"$op": "delete"}
  else empty end
