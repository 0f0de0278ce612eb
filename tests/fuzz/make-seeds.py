#!/usr/bin/env python3
"""make-seeds.py: write the seed corpus of every fuzz target into tests/fuzz/corpus/<target>/
from the repository's real fixtures (tests/fixtures/near-mpc, tests/contract/fixtures, the
configuration example of docs/operations.md) and the documented formats (docs/store-format.md,
docs/node.md). Deterministic; rerun after a format change, then minimise with -merge=1
(README.md). Needs python3-cryptography only for the encrypted-body seeds."""
import base64, hashlib, json, os, re, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
OUT = os.path.join(HERE, 'corpus')
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


def b58(data):
    n = int.from_bytes(data, 'big')
    s = ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return '1' * (len(data) - len(data.lstrip(b'\0'))) + s


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def read(*p):
    with open(os.path.join(ROOT, *p), 'rb') as f:
        return f.read()


def snap(name):
    text = read('tests', 'fixtures', 'near-mpc', name).decode()
    return json.loads(text.split('---', 2)[2])


def decompress_secp256k1(pk33):
    p = 2**256 - 2**32 - 977
    x = int.from_bytes(pk33[1:], 'big')
    y = pow((x**3 + 7) % p, (p + 1) // 4, p)
    if y % 2 != pk33[0] - 2:
        y = p - y
    return x.to_bytes(32, 'big') + y.to_bytes(32, 'big')


contract_fixtures = sorted(f for f in os.listdir(os.path.join(ROOT, 'tests', 'contract', 'fixtures'))
                           if f.endswith('.json'))
states = {f[:-5]: read('tests', 'contract', 'fixtures', f) for f in contract_fixtures
          if f != 'migration_info.json'}
states['mainnet'] = read('tests', 'fixtures', 'near-mpc', 'mainnet-contract-state.json')
mi = read('tests', 'contract', 'fixtures', 'migration_info.json')
mainnet = json.loads(states['mainnet'])

# contract_state: every state fixture, and the bare keysets in them.
for name, text in states.items():
    put('contract_state', name + '.json', text)
put('contract_state', 'keyset-mainnet.json', json.dumps(mainnet['Running']['keyset']))
put('contract_state', 'u64-max.json', '{"Initializing":{"epoch_id":18446744073709551615}}')

# migration_info
put('migration_info', 'fixture.json', mi)
put('migration_info', 'empty.json', '{}')
put('migration_info', 'secp-signer.json', json.dumps({'a.near': [None, {
    'signer_account_pk': 'secp256k1:' + b58(bytes(range(1, 65))),
    'destination_node_info': {'url': 'https://d.example:3000',
                              'tls_public_key': 'ed25519:' + b58(bytes(range(32)))}}]}))

# contract_view: state NUL migration_info [NUL operator]
for name, text in states.items():
    put('contract_view', name + '.bin', text + b'\0' + mi)
put('contract_view', 'mainnet-other-operator.bin',
    states['mainnet'] + b'\0' + mi + b'\0blacksandtech.near')
put('contract_view', 'mainnet-empty-mi.bin', states['mainnet'] + b'\0{}\0nobody.near')

# rpc_envelope: the views as NEAR returns them, and the error shapes of tests/fakes/rpc.
def envelope(view, height=123456):
    return ('{"jsonrpc":"2.0","result":{"result":[%s],"logs":[],"block_height":%d,'
            '"block_hash":"6Kq3p9Yqk9n5aF9ZbGWGBZ3C4NzKxgK5c8v8d7aV1Q2s"},"id":"dontcare"}'
            % (','.join(str(b) for b in view), height))

put('rpc_envelope', 'state-mainnet.json', envelope(states['mainnet']))
put('rpc_envelope', 'state-not-initialized.json', envelope(states['not-initialized']))
put('rpc_envelope', 'migration-info.json', envelope(mi))
put('rpc_envelope', 'rpc-error.json', json.dumps({'jsonrpc': '2.0', 'error': {
    'name': 'HANDLER_ERROR', 'cause': {'name': 'UNKNOWN_BLOCK', 'info': {}}, 'code': -32000,
    'message': 'Server error', 'data': 'DB Not Found Error'}, 'id': 1}))
put('rpc_envelope', 'panic.json', '{"jsonrpc":"2.0","result":{"error":"wasm execution failed with '
    'error: FunctionCallError(ExecutionError(\\"Smart contract panicked: x\\"))","logs":[],'
    '"block_height":7,"block_hash":"x"},"id":"\\u00e9"}')
put('rpc_envelope', 'escapes.json', '{"id":[1.5e3,-0,true,false,null,"\\t\\"\\/\\u0041"],'
    '"result":{"logs":["a"],"result":[0,255,9],"block_height":18446744073709551615}}')

put('rpc_envelope', 'block.json', '{"jsonrpc":"2.0","result":{"author":"x.near","header":'
    '{"height":151234567,"prev_height":151234566,"hash":"6Kq3p9Yqk9n5aF9ZbGWGBZ3C4NzKxgK5c8v8d7aV1Q2s",'
    '"timestamp":1764547200000000000},"chunks":[]},"id":"dontcare"}')
put('rpc_envelope', 'unknown-block.json', json.dumps({'jsonrpc': '2.0', 'error': {
    'name': 'HANDLER_ERROR', 'cause': {'name': 'GARBAGE_COLLECTED_BLOCK', 'info': {}},
    'code': -32000, 'message': 'Server error', 'data': 'DB Not Found Error: BLOCK HEIGHT: 1'},
    'id': 1}))

# keyshares: from the keygen snapshots (participant 0 of each curve), with and without the
# keyset they belong to (keyset JSON NUL keyshares JSON).
secp = snap('keygen-output-secp256k1.snap')[0][1]
ed = snap('keygen-output-ed25519.snap')[0][1]
shares = [
    {'key_id': {'epoch_id': 4, 'domain_id': 0, 'attempt_id': 240},
     'data': {'Secp256k1': secp}},
    {'key_id': {'epoch_id': 4, 'domain_id': 1, 'attempt_id': 0},
     'data': {'Ed25519': ed}},
]
ed_pk = bytes.fromhex(ed['public_key'])
keyset = {'epoch_id': 4, 'domains': [
    {'domain_id': 0, 'key': {'Secp256k1': {'near_public_key': 'secp256k1:' + b58(
        decompress_secp256k1(bytes.fromhex(secp['public_key'])))}}, 'attempt': 240},
    {'domain_id': 1, 'key': {'Ed25519': {'near_public_key_compressed': 'ed25519:' + b58(ed_pk),
                                         'edwards_point': list(ed_pk)}}, 'attempt': 0},
]}
shares_text = json.dumps(shares)
put('keyshares', 'snap-shares.json', shares_text)
put('keyshares', 'snap-keyset-and-shares.bin', json.dumps(keyset) + '\0' + shares_text)
put('keyshares', 'bls.json', json.dumps([{'key_id': {'epoch_id': 9, 'domain_id': 2,
    'attempt_id': 1}, 'data': {'Bls12381': {'private_share': '11' * 32,
    'public_key': 'a0' * 96}}}]))
put('keyshares', 'mainnet-keyset-and-shares.bin',
    json.dumps(mainnet['Running']['keyset']) + '\0' + shares_text)

# body: a real body under the fuzz target's fixed key, and plaintexts for the round trip.
try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key = bytes(range(32))
    nonce = bytes(range(100, 112))
    ct = AESGCM(key).encrypt(nonce, shares_text.encode(), None)
    put('body', 'snap-shares-body.txt', b'\0' + base64.b64encode(nonce + ct))
    put('body', 'empty-body.txt', b'\0' + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, b'', None)))
except ImportError:
    print('make-seeds: python3-cryptography missing: no encrypted body seed', file=sys.stderr)
put('body', 'plaintext.txt', b'\x01' + shares_text.encode())
put('body', 'bad-base64.txt', b'\0AAAA====')

# store_file: header || blobs per docs/store-format.md, with the fixtures' keysets.
def str8(s):
    s = s.encode()
    return bytes([len(s)]) + s


def store_file(epoch, domains, tokens, blobs=None):
    body = struct.pack('>QQ', epoch, 1764547200) + str8('v1.signer') + str8('operator.near')
    body += bytes([len(tokens)])
    for mech, serial, label, key_label, key_id in tokens:
        body += bytes([mech]) + str8(serial) + str8(label) + str8(key_label)
        body += bytes([len(key_id)]) + key_id
    body += struct.pack('>I', len(domains))
    for did, attempt, curve, pk in domains:
        body += struct.pack('>QQBB', did, attempt, curve, len(pk)) + pk
    hdr = b'MPCSTORE' + struct.pack('>HI', 1, len(body)) + body
    if blobs is None:
        blobs = [hashlib.sha256(bytes([i]) + hdr).digest() * 3 for i in range(len(tokens))]
    out = hdr + bytes([len(blobs)])
    for i, b in enumerate(blobs):
        out += bytes([i]) + struct.pack('>I', len(b)) + b
    return hdr, out


secp_xy = decompress_secp256k1(bytes.fromhex(secp['public_key']))
tok = (1, '1b2a3c4d5e6f7a8b', 'mpc-backup', 'mpc-backup-seal-gcm', b'\x01')
tok2 = (2, '0123456789abcdef', 'backup-2', 'mpc-backup-seal-cbc', b'\x02')
hdr, f = store_file(4, [(0, 240, 1, secp_xy), (1, 0, 2, ed_pk)], [tok])
put('store_file', 'keyset-e00000000000000000004-%s.mpcs' % hashlib.sha256(hdr).hexdigest()[:16], f)
_, f = store_file(7, [(0, 240, 1, secp_xy), (1, 0, 2, ed_pk), (2, 3, 3, b'\xa0' * 96)],
                  [tok, tok2])
put('store_file', 'two-tokens-three-curves.mpcs', f)
put('store_file', 'header-only.mpcs', hdr)
put('store_file', 'name.txt', 'keyset-e00000000000000000004-0123456789abcdef.mpcs')

# pkcs11_uri: what docs/operations.md and the tests use, and refused shapes.
for i, u in enumerate([
        'pkcs11:token=mpc-backup?module-name=yubihsm_pkcs11&pin-source=file:/run/secrets/hsm-pin',
        'pkcs11:token=mpc-backup;serial=1b2a3c4d5e6f7a8b;object=mpc-backup-tls;type=private'
        '?module-path=/usr/lib/softhsm/libsofthsm2.so',
        'pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2;id=%01%02',
        'pkcs11:slot-id=3;slot-description=x;library-manufacturer=y',
        'pkcs11:token=a?pin-value=1234',
        'pkcs11:token=a;module-path=/x',
        'pkcs11:token=a?pin-source=|/bin/cat',
        'pkcs11:token=a?Pin%2DValue=1',
        'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=1b2a3c4d5e6f7a8b;'
        'token=a%20b%3Bc?module-name=softhsm2',
        'pkcs11:slot-id=38688714;token=dup;library-description=Implementation%20of%20PKCS11;'
        'library-manufacturer=SoftHSM;library-version=2.6;slot-manufacturer=SoftHSM%20project'
        '?module-path=/usr/lib/softhsm/libsofthsm2.so',
        'pkcs11:token=a;token=b?frob=1&module-name=x&module-name=y',
        'pkcs11:token=pin_val\x0buel-path=/x']):
    put('pkcs11_uri', 'uri-%d.txt' % i, u)

# config: the example of docs/operations.md, and one line of each refused kind.
ops = read('docs', 'operations.md').decode()
m = re.search(r'```\n(# /etc/mpc-backup/run.conf\n.*?)```', ops, re.S)
put('config', 'operations-example.conf', m.group(1))
put('config', 'minimal.conf', 'store = /var/lib/mpc-backup\naccount = a.near\n'
    'rpc_url = http://127.0.0.1:3030\n')
put('config', 'refused.conf', 'pin = 1234\n')
put('config', 'bad-line.conf', '# comment\n\nstore\n')

# encoding: byte 0 picks the codec (0 hex, 1 base58, 2 base64, 3 bytes round trip, 4 key).
put('encoding', 'hex.txt', b'\0' + secp['private_share'].encode())
put('encoding', 'hex-upper.txt', b'\0' + ed['public_key'].upper().encode())
put('encoding', 'base58.txt', b'\x01' + b58(secp_xy).encode())
put('encoding', 'base58-zeros.txt', b'\x01' + b58(b'\0\0' + ed_pk).encode())
put('encoding', 'base64.txt', b'\x02' + base64.b64encode(ed_pk))
put('encoding', 'base64-pad1.txt', b'\x02' + base64.b64encode(b'ab'))
put('encoding', 'base64-pad2.txt', b'\x02' + base64.b64encode(b'a'))
put('encoding', 'bytes.bin', b'\x03' + secp_xy)
put('encoding', 'ed25519-key.txt', b'\x04ed25519:' + b58(ed_pk).encode())
