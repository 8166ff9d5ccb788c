# A warehouse LOB export (one CSV: sites, zones, forklifts with their
# parent) -> ADT twins and the relationships of the graph
#   site --contains--> zone --hosts--> forklift
# in the bulk-import line shapes push-adt reads. Empty CSV cells are left
# out (a CSV gives "", a database NULL). cdc-filter keys: .["$relationshipId"] // .["$dtId"] (relationship
# ids are unique across the graph).
def model: "dtmi:contoso:warehouse:" + ({site: "Site", zone: "Zone", forklift: "Forklift"}[.kind]) + ";1";
def rel: {zone: "contains", forklift: "hosts"}[.kind];
if .kind == "site" then
  {"$dtId": .id, "$metadata": {"$model": model}, name, city}
elif .kind == "zone" then
  {"$dtId": .id, "$metadata": {"$model": model}, name, kind: .zone_kind,
   capacity: (.capacity | tonumber)},
  {"$dtId": .parent, "$relationshipId": "\(.parent)-contains-\(.id)",
   "$targetId": .id, "$relationshipName": "contains"}
elif .kind == "forklift" then
  ({"$dtId": .id, "$metadata": {"$model": model}, name,
    battery: (.battery | tonumber), status}
   + (if (.order // "") != "" then {order} else {} end)),
  {"$dtId": .parent, "$relationshipId": "\(.parent)-hosts-\(.id)",
   "$targetId": .id, "$relationshipName": "hosts"}
else error("unknown kind \(.kind | tojson)") end
