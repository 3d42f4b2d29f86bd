# Golden vectors of the ownership handshake (docs/protocol.md, "Ownership"), shared by the belt's
# tests (test_auth, under MicroPython and CPython) and the companion's (tests/companion/
# test_ownership.py); tests/test_protocol_docs.py checks that the document shows these bytes.
#
# One pairing and one connection with fixed inputs: the host's and the belt's X25519 private
# keys are RFC 7748 section 6.1's Alice and Bob, so the public keys are the RFC's too. Request ids
# 1 (pair), 2 (auth), 3 (auth_proof), then the first sealed packets both ways. The companion's
# codec (cryptography) made the host's packets, the belt's code made its own; each side's test
# opens the other's.
V = {
    'device_id': '123456789abcdef0',
    'host_id': 'a1a2a3a4a5a6a7a8',
    'host_private': '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    'belt_private': '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
    'host_public': '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    'belt_public': 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    'pair_request': '100001002800a1a2a3a4a5a6a7a88520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    'pair_reply': '900001002000de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    'pair_key': '64900611a1b657ba0f01c391304b105a60e46afc884d06320c3da6d57c85513e',
    'host_nonce': '000102030405060708090a0b0c0d0e0f',
    'belt_nonce': '101112131415161718191a1b1c1d1e1f',
    'auth_request': '110002001800a1a2a3a4a5a6a7a8000102030405060708090a0b0c0d0e0f',
    'belt_proof': 'f98e31a575fd234aa51f65d9979e767b',
    'host_proof': '708e8535ca1066de5e4edf14066e9819',
    'auth_reply': '910002002000101112131415161718191a1b1c1d1e1ff98e31a575fd234aa51f65d9979e767b',
    'auth_proof_request': '120003001000708e8535ca1066de5e4edf14066e9819',
    'session_keys': 'a61520d7df9c2934ef0ee89a94037ca9d517bf45e7d0f5791540008a732d412d7b268d7e7b2663539ead521597d8f1034b08d4d9f3764001b320696d2214165838fb188bc50189dd27ef55cac557ff22',
    'auth_proof_reply': '92010300000001000000d85f5b5735af6bbd',
    'status_request': '020104000000010000002ec62b2c095f0575',
    'live_request': '0701050001003902000000152df9dfc70bb8b5',
    'live_reply': '870105000000020000003305919ca9b03b92',
    'effort_event': '410100000a00b5889e5cf5334377fb2c03000000e83aa7c0bb8d3bb0',
}


def b(name):
    return bytes.fromhex(V[name])
