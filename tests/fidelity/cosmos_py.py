# Drive twin-emulator with Debian's python3-azure-cosmos 3.1.1; prints TAP.
# Usage: /usr/bin/python3 cosmos_py.py URL
import json
import sys
import urllib.request

import azure.cosmos.cosmos_client as cosmos_client
import azure.cosmos.documents as documents
import azure.cosmos.errors as errors

URL = sys.argv[1]
KEY = ('C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGy'
       'PMbIZnqyMsEcaGQy67XIw/Jw==')
n = 0
failed = 0


def ok(cond, name, extra=None):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print('%sok %d - python3-azure-cosmos: %s' % ('' if cond else 'not ', n, name))
    if not cond and extra is not None:
        print('#   %r' % (extra,))


def status(fn, *a, **kw):
    try:
        fn(*a, **kw)
        return 0
    except errors.HTTPFailure as e:
        return e.status_code


def admin(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data,
                                 method='POST' if data else 'GET')
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b'null')


def main():
    policy = documents.ConnectionPolicy()
    policy.EnableEndpointDiscovery = False
    client = cosmos_client.CosmosClient(URL, {'masterKey': KEY}, policy)
    db = client.CreateDatabase({'id': 'pydb'})
    ok(db['id'] == 'pydb' and db['_self'], 'CreateDatabase')
    ok(status(client.CreateDatabase, {'id': 'pydb'}) == 409, 'CreateDatabase again 409')
    coll = client.CreateContainer('dbs/pydb', {
        'id': 'c', 'partitionKey': {'paths': ['/pk'], 'kind': 'Hash'}})
    ok(coll['partitionKey']['paths'] == ['/pk'], 'CreateContainer with a partition key')
    link = 'dbs/pydb/colls/c'
    d = client.CreateItem(link, {'id': 'a', 'pk': 'p1', 'n': 1})
    ok(d['_etag'] and d['_ts'] and d['_rid'], 'CreateItem')
    ok(status(client.CreateItem, link, {'id': 'a', 'pk': 'p1'}) == 409, 'CreateItem duplicate 409')
    u = client.UpsertItem(link, {'id': 'b', 'pk': 'p1', 'n': 1})
    u2 = client.UpsertItem(link, {'id': 'b', 'pk': 'p1', 'n': 2})
    ok(u2['n'] == 2 and u2['_etag'] != u['_etag'], 'UpsertItem twice')
    r = client.ReadItem(link + '/docs/a', {'partitionKey': 'p1'})
    ok(r['n'] == 1, 'ReadItem')
    ok(status(client.ReadItem, link + '/docs/zz', {'partitionKey': 'p1'}) == 404, 'ReadItem missing 404')
    rp = client.ReplaceItem(link + '/docs/a', {'id': 'a', 'pk': 'p1', 'n': 3}, {
        'partitionKey': 'p1', 'accessCondition': {'type': 'IfMatch', 'condition': d['_etag']}})
    ok(rp['n'] == 3, 'ReplaceItem with If-Match')
    ok(status(client.ReplaceItem, link + '/docs/a', {'id': 'a', 'pk': 'p1', 'n': 4}, {
        'partitionKey': 'p1', 'accessCondition': {'type': 'IfMatch', 'condition': d['_etag']}}) == 412,
        'ReplaceItem with a stale etag 412')
    # throttling: the SDK retries after x-ms-retry-after-ms
    admin('/_admin/faults', {'rate': 5})
    urllib.request.urlopen(urllib.request.Request(URL + '/_admin/stats', method='DELETE'))
    for i in range(12):
        client.UpsertItem(link, {'id': 't%d' % i, 'pk': 'p2'})
    admin('/_admin/faults', {'rate': 0})
    st = admin('/_admin/stats')
    ok(st['by_status'].get('429', 0) > 0 and st['by_status'].get('201', 0) == 12,
       '429 answers retried by the SDK', st['by_status'])
    client.DeleteItem(link + '/docs/b', {'partitionKey': 'p1'})
    ok(status(client.ReadItem, link + '/docs/b', {'partitionKey': 'p1'}) == 404, 'DeleteItem')
    ok(status(client.DeleteItem, link + '/docs/b', {'partitionKey': 'p1'}) == 404, 'DeleteItem again 404')
    q = sorted(d['id'] for d in client.QueryItems(
        link, 'SELECT * FROM c WHERE c.pk = "p2" AND c.id >= "t5"',
        {'enableCrossPartitionQuery': True}))
    ok(q == ['t5', 't6', 't7', 't8', 't9'], 'QueryItems across partitions', q)
    q = list(client.QueryItems(link, {
        'query': 'SELECT * FROM c WHERE c.id = @id',
        'parameters': [{'name': '@id', 'value': 'a'}]}, {'partitionKey': 'p1'}))
    ok(len(q) == 1 and q[0]['n'] == 3, 'QueryItems with a parameter', q)
    q = list(client.QueryItems(link, 'SELECT VALUE COUNT(1) FROM c',
                               {'enableCrossPartitionQuery': True}))
    ok(q == [13], 'QueryItems VALUE COUNT(1)', q)
    items = list(client.ReadItems(link))
    ok(len(items) == 13, 'ReadItems (feed)', len(items))
    bad = cosmos_client.CosmosClient(URL, {'masterKey': 'd3Jvbmcga2V5'}, policy)
    ok(status(bad.ReadDatabase, 'dbs/pydb') == 401, 'wrong master key 401')
    client.DeleteDatabase('dbs/pydb')
    ok(status(client.ReadDatabase, 'dbs/pydb') == 404, 'DeleteDatabase')


try:
    main()
except Exception as e:  # report, never crash silently
    n += 1
    failed += 1
    print('not ok %d - python3-azure-cosmos: unexpected error: %s' % (n, repr(e).replace('\n', ' ')))
print('1..%d' % n)
sys.exit(1 if failed else 0)
