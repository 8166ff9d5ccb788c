-- wrk script: Cosmos DB upserts of 10k documents in dbs/bench/colls/c with
-- a type=aad token from the emulator (TOKEN) and a fixed x-ms-date (DATE).
local auth = "type%3Daad%26ver%3D1.0%26sig%3D" .. (os.getenv("TOKEN") or "")
local date = os.getenv("DATE") or ""
local n = 0
request = function()
	n = n + 1
	local id = string.format("d%d", n % 10000)
	local pk = string.format("dev-%d", n % 100)
	return wrk.format("POST", "/dbs/bench/colls/c/docs", {
		["Authorization"] = auth, ["x-ms-date"] = date,
		["x-ms-version"] = "2020-07-15",
		["x-ms-documentdb-is-upsert"] = "true",
		["x-ms-documentdb-partitionkey"] = '["' .. pk .. '"]',
		["Content-Type"] = "application/json"
	}, '{"id":"' .. id .. '","pk":"' .. pk .. '","properties":{"reported":{"temp":21.5,"on":true}},"version":7}')
end
