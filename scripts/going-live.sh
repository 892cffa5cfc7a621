#!/usr/bin/env bash
# The going-live path of the vendor's document (steps A to D), with its own curl commands,
# against BASE (the sandbox by default). Prints each answer; exits non-zero on an HTTP error.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:${SANDBOX_PORT:-8787}/api/v2}
USERNAME=${SANDBOX_USERNAME:-you@company.com}
PASSWORD=${SANDBOX_PASSWORD:-YourStrongPassword!}
CSP=${SANDBOX_CSP_ID:-CSP0000003}
NUMBER=${NUMBER:-+15559876543}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

echo "# A: log in"
LOGIN=$(curl -sf -X POST "$BASE/auth/login" -H "Content-Type: application/json" \
  -d "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}")
TOKEN=$(printf '%s' "$LOGIN" | json accessToken)
printf '%s' "$LOGIN" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["accessToken"]=d["refreshToken"]="(hidden)"; print(json.dumps(d))'

echo "# B: create an enterprise under $CSP"
ENTERPRISE=$(curl -sf -X POST "$BASE/enterprise/$CSP" -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" -d "{
\"name\":\"Sunshine Dental Clinic\",
\"contact\":\"Dr. Maria Rodriguez\",
\"number\":\"$NUMBER\",
\"email\":\"maria@sunshinedental.com\"
}")
echo "$ENTERPRISE"
EID=$(printf '%s' "$ENTERPRISE" | json enterpriseId)

echo "# C: map $NUMBER to a Teams channel in $EID"
curl -sf -X POST "$BASE/mapping/add/$EID" -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" -d "{
\"phoneNumber\":\"$NUMBER\",
\"messagingAppType\":\"Teams\",
\"messagingAppId\":\"teams-channel-id-12345\",
\"name\":\"FrontDesk\"
}"
echo

echo "# D: verify"
curl -sf -X GET "$BASE/numbertomessageappmapping/enterprise/$EID" -H "Authorization: Bearer $TOKEN"
echo
