# JWT helpers for the demo and the benchmarks (sourced), with the openssl command line only.
#   jwt_rsa_key DIR         makes DIR/jwt-key.pem (RS256, 2048 bits) and DIR/jwks.json (kid "demo")
#   jwt_token DIR SUB PLAN  prints a token for SUB with claim plan=PLAN, issuer https://issuer.demo,
#                           valid for an hour, signed with DIR/jwt-key.pem
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
jwt_rsa_key() {
  local modulus
  openssl genrsa -out "$1/jwt-key.pem" 2048 2>/dev/null
  modulus=$(openssl rsa -in "$1/jwt-key.pem" -noout -modulus | cut -d= -f2 | xxd -r -p | b64url)
  printf '{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"demo","n":"%s","e":"AQAB"}]}' \
    "$modulus" > "$1/jwks.json"
}
jwt_token() {
  local head body exp=$(( $(date +%s) + 3600 ))
  head=$(printf '{"alg":"RS256","typ":"JWT","kid":"demo"}' | b64url)
  body=$(printf '{"iss":"https://issuer.demo","sub":"%s","plan":"%s","exp":%s}' "$2" "$3" "$exp" | b64url)
  printf '%s.%s.%s' "$head" "$body" \
    "$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -sign "$1/jwt-key.pem" -binary | b64url)"
}
