"""Check one archived delivery with the archive signing key's public half, and nothing else.

usage: python3 verify_object.py OBJECT_KEY OBJECT.json PUBLIC_KEY.der
  OBJECT.json    aws s3api get-object --bucket "$BUCKET" --key "$OBJECT_KEY" OBJECT.json
  PUBLIC_KEY.der aws kms get-public-key --key-id "$KEY_ARN" --query PublicKey --output text | base64 -d
Needs the `cryptography` package. Prints "attested by <function> (certified <time>)", or fails.
A sealed object (an erasable archive) keeps its body and event encrypted under a data key of its
own: the check then stands on the hashes kept in clear, which the signature covers.
"""
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

object_key, text = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
kms_key = serialization.load_der_public_key(open(sys.argv[3], "rb").read())
o, a = json.loads(text), json.loads(text)["attestation"]
c, sha256 = a["certificate"], lambda b: hashlib.sha256(b).hexdigest()

# 1. The certificate: the KMS key vouches for the environment's Ed25519 key (raises if not).
lines = ["kyc-intake archive key v1", c["function"], a["public_key"], c["issued_at"]]
kms_key.verify(base64.b64decode(c["signature"]), "\n".join(lines).encode(), ec.ECDSA(hashes.SHA256()))

# 2. The hashes kept in clear are those of the body and of the event's exact bytes.
decoder, i, raw = json.JSONDecoder(), text.index("{") + 1, {}
while text[i] != "}":  # the top-level members' raw text, to hash `event` byte for byte
    name, i = decoder.raw_decode(text, text.index('"', i))
    start = text.index(":", i) + 1
    while text[start] in " \t\r\n": start += 1
    _, i = decoder.raw_decode(text, start)
    raw[name] = text[start:i]
    while text[i] in " \t\r\n,": i += 1
if "sealed" not in o:  # sealed: the body and event are not in the object to hash
    assert sha256(base64.b64decode(o["request"]["body_base64"])) == o["body_sha256"], "body changed"
    assert sha256(raw["event"].encode()) == o["event_sha256"], "event changed"

# 3. The environment's signature over the object's lines (raises if any changed).
r = o["request"]
headers = sorted(f"{k}:{v}" for k, v in r["headers"].items())
lines = ["kyc-intake archive v1", object_key, o["event_id"], o["source"], o["received_at"],
         o["auth_scheme"], r["path"], r["source_ip"] or "", sha256("\n".join(headers).encode()),
         o["body_sha256"], o["event_sha256"]]
env_key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(a["public_key"]))
env_key.verify(base64.b64decode(a["signature"]), "\n".join(lines).encode())
sealed = "; body and event sealed" if "sealed" in o else ""
print(f"attested by {c['function']} (certified {c['issued_at']}){sealed}")
