# A LOB organisation row (all values strings, as a CSV export gives them)
# -> an ADT twin upsert in the bulk-import line shape (DESIGN.md).
{
  "$dtId": .OrgId,
  "$metadata": {"$model": "dtmi:com:contoso:Organization;1"},
  name: .Name,
  kind: .Type,
  region: .Region,
  capacity: (.Capacity | tonumber),
  active: (.Active == "true"),
  opened: ((.Opened | sub(" "; "T")) + "Z"),
  location: {lat: (.Lat | tonumber), lon: (.Lon | tonumber)}
}
