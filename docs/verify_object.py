"""Check one archived delivery with the archive signing key's public half, and nothing else.

usage: python3 verify_object.py OBJECT_KEY OBJECT.json PUBLIC_KEY.der VERSIONS.json
  OBJECT.json    aws s3api get-object --bucket "$BUCKET" --key "$OBJECT_KEY" OBJECT.json
  PUBLIC_KEY.der aws kms get-public-key --key-id "$KEY_ARN" --query PublicKey --output text | base64 -d
  VERSIONS.json  aws s3api list-object-versions --bucket "$BUCKET" --prefix "$OBJECT_KEY" > VERSIONS.json
Needs the `cryptography` package. Prints "attested by <function> (certified <time>)", or fails.
Attestation v2 frames every signed field (its length, 8 bytes big-endian, then its bytes), salts
the body's and event's digests and names the function that serves the source
(`<provider>-webhook`); v1 objects (no "version") joined the fields as lines.
A sealed object (an erasable archive) keeps its body, event and salt encrypted under a data key
of its own: the check then stands on the digests kept in clear, which the signature covers.
"""
import base64, hashlib, json, sys
from datetime import datetime, timedelta
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

object_key, text = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
kms_key = serialization.load_der_public_key(open(sys.argv[3], "rb").read())
listing = json.load(open(sys.argv[4], encoding="utf-8"))
o, a = json.loads(text), json.loads(text)["attestation"]
c, v = a["certificate"], a.get("version", 1)
assert v in (1, 2), f"unknown attestation version {v}"

# 0. Written once: exactly one version of the key, and no delete marker.
same = lambda entries: [e for e in entries or [] if e["Key"] == object_key]
assert len(same(listing.get("Versions"))) == 1 and not same(listing.get("DeleteMarkers")), "more than one version"

def signed(*fields):  # v2: each field framed; v1: the fields as lines
    if v == 1:
        return "\n".join(fields).encode()
    return b"".join(len(f.encode()).to_bytes(8, "big") + f.encode() for f in fields)

def digest(data):  # v2: salted with the delivery's own salt
    salt = base64.b64decode(o["salt"]) if v == 2 else b""
    return hashlib.sha256(salt + data).hexdigest()

# 1. The certificate: the KMS key vouches for the environment's Ed25519 key (raises if not).
context = "kyc-intake archive key v2" if v == 2 else "kyc-intake archive key v1"
message = signed(context, c["function"], a["public_key"], c["issued_at"])
kms_key.verify(base64.b64decode(c["signature"]), message, ec.ECDSA(hashes.SHA256()))
if v == 2:  # consistency checks (the bucket's per-prefix write is the binding)
    assert c["function"] == o["source"].split("/")[0] + "-webhook", "certified for another function"
    at = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
    assert at(c["issued_at"]) <= at(o["received_at"]) + timedelta(minutes=5), "certified after the delivery"

# 2. The digests kept in clear are those of the body and of the event's exact bytes.
decoder, i, raw = json.JSONDecoder(), text.index("{") + 1, {}
while text[i] != "}":  # the top-level members' raw text, to hash `event` byte for byte
    name, i = decoder.raw_decode(text, text.index('"', i))
    start = text.index(":", i) + 1
    while text[start] in " \t\r\n": start += 1
    _, i = decoder.raw_decode(text, start)
    raw[name] = text[start:i]
    while text[i] in " \t\r\n,": i += 1
if "sealed" not in o:  # sealed: the body and event are not in the object to hash
    assert digest(base64.b64decode(o["request"]["body_base64"])) == o["body_sha256"], "body changed"
    assert digest(raw["event"].encode()) == o["event_sha256"], "event changed"

# 3. The environment's signature over the object's fields (raises if any changed).
r = o["request"]
if v == 2:
    headers = hashlib.sha256(b"".join(signed(k, val) for k, val in sorted(r["headers"].items()))).hexdigest()
else:
    headers = hashlib.sha256("\n".join(sorted(f"{k}:{val}" for k, val in r["headers"].items())).encode()).hexdigest()
context = "kyc-intake archive v2" if v == 2 else "kyc-intake archive v1"
message = signed(context, object_key, o["event_id"], o["source"], o["received_at"], o["auth_scheme"],
                 r["path"], r["source_ip"] or "", headers, o["body_sha256"], o["event_sha256"])
env_key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(a["public_key"]))
env_key.verify(base64.b64decode(a["signature"]), message)
sealed = "; body and event sealed" if "sealed" in o else ""
older = "" if v == 2 else ", attestation v1"
print(f"attested by {c['function']} (certified {c['issued_at']}{older}){sealed}")
