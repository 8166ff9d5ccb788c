-- wrk script: PUT twins t0..t9999 (ADT twin upsert) with a bearer token.
-- Environment: TOKEN (bearer token), NTWINS (default 10000).
local token = os.getenv("TOKEN") or ""
local ntwins = tonumber(os.getenv("NTWINS") or "10000")
local n = 0
local body = '{"$metadata":{"$model":"dtmi:bench:Thing;1"},"name":"thing","temp":21.5,"on":true}'
request = function()
	n = n + 1
	local path = string.format("/digitaltwins/t%d?api-version=2023-10-31", n % ntwins)
	return wrk.format("PUT", path, {
		["Authorization"] = "Bearer " .. token,
		["Content-Type"] = "application/json"
	}, body)
end
