-- wrk script: GET twins t0..t9999 with a bearer token (TOKEN, NTWINS).
local token = os.getenv("TOKEN") or ""
local ntwins = tonumber(os.getenv("NTWINS") or "10000")
local n = 0
request = function()
	n = n + 1
	return wrk.format("GET", string.format("/digitaltwins/t%d?api-version=2023-10-31",
	    n % ntwins), { ["Authorization"] = "Bearer " .. token })
end
