# iothub-to-cosmos.jq - IoT Hub events, as ingest-eventhub writes them, to
# push-cosmos document operations (one operation per event, so that every
# event is acknowledged by one result line carrying its _meta.src).
#
#   ingest-eventhub --exec 'transform -f pipelines/iothub-to-cosmos.jq |
#       push-cosmos -d iot --container twins -p /deviceId --tombstones'
#
# Document id: the device id, or "DEVICE/MODULE" for module twins;
# partition key /deviceId.
#   updateTwin             merge of the partial twin, guarded by $version
#   replaceTwin            upsert of the twin, guarded by $version
#   create*Identity        upsert of the whole twin, guarded by $version
#   delete*Identity        delete, guarded by $version
#   deviceConnected /
#   deviceDisconnected     merge of connectionState (no version)
#   a twin read by         upsert of the whole twin, guarded by $version,
#   extract-lob iothub:    with "$time" the hub's time of the read
#                          (_meta.src.read): the back-fill of
#                          pipelines/iothub-backfill-to-cosmos
# Anything else is an error: transform dead-letters it (give it
# --dead-letter FILE), and ingest-eventhub counts it as handled once the
# next barrier control record comes back through the pipeline (re-drive it
# from the dead-letter file, or run such events to another route).
#
# Every operation carries the event's operationTimestamp as "$time" (when
# it has one): a device deleted and created again starts at twin version 1,
# and push-cosmos tells its generations apart by these times (a tombstone
# keeps the time of the delete, a document the start of its generation).

def dev: .properties.deviceId // .body.deviceId;
def mod: .properties.moduleId // .body.moduleId;
def docid: if mod then "\(dev)/\(mod)" else dev end;
def keys_: {id: docid, deviceId: dev} + (if mod then {moduleId: mod} else {} end);
def time_: if .properties.operationTimestamp then
    {"$time": .properties.operationTimestamp} else {} end;

# a twin of the registry (extract-lob iothub:), not an event
def twin_: (._meta.src.read | type) == "string" and
    (.deviceId | type) == "string" and (.properties.opType == null);

.properties.opType as $op
| time_ as $time
| if twin_ then
    {"$op": "upsert", id: (if .moduleId then "\(.deviceId)/\(.moduleId)"
                           else .deviceId end)} +
      {"$version": .version, "$time": ._meta.src.read} + del(.id)
  elif dev == null then error("event without a device id")
  elif $op == "updateTwin" then
    {"$op": "merge"} + keys_ + {"$version": .body.version} + $time + .body
  elif $op == "replaceTwin" or $op == "createDeviceIdentity" or
       $op == "createModuleIdentity" then
    {"$op": "upsert"} + keys_ + {"$version": .body.version} + $time +
      (.body | del(.id))
  elif $op == "deleteDeviceIdentity" or $op == "deleteModuleIdentity" then
    {"$op": "delete"} + keys_ + $time +
      (if .body.version then {"$version": .body.version} else {} end)
  elif $op == "deviceConnected" or $op == "deviceDisconnected" then
    {"$op": "merge"} + keys_ + $time +
      {connectionState: (if $op == "deviceConnected" then "Connected"
                         else "Disconnected" end),
       lastConnectionEvent: .properties.operationTimestamp}
  else error("not a twin, lifecycle or connection event: opType \($op)")
  end
