#!/usr/bin/env python3
# The tiny application behind mod_auth_openidc: what the module handed it
# (REMOTE_USER and the OIDC_CLAIM_* environment variables), as JSON. The
# access and ID tokens it also passes (OIDC_access_token …) are left out.
import json
import os

claims = {k: v for k, v in os.environ.items() if k.startswith("OIDC_CLAIM_") or k == "REMOTE_USER"}
print("Content-Type: application/json")
print("Cache-Control: no-store")
print()
print(json.dumps(claims, indent=2, sort_keys=True))
