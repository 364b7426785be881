#!/bin/sh
# Installs and starts the lab's private registry from harbor.yml (next to this script):
#   - the real distribution registry (docker-registry) on port 80, with token authentication;
#   - its token service on port 5001 (`berth-lab-host token-server`), which decides from the
#     projects in harbor.yml who may pull and push, and signs its answers with a key whose
#     certificate the registry trusts.
# Running it again restarts both with the current harbor.yml; images already pushed stay.
set -e
cd "$(dirname "$0")"
val() { sed -n "s/^$1:[[:space:]]*//p" harbor.yml | tail -1 | tr -d '\r'; }
host=$(val hostname)
password=$(val harbor_admin_password)
data=$(val data_volume)
if [ -z "$host" ] || [ "$host" = reg.mydomain.com ]; then
  echo "install.sh: set hostname in harbor.yml to this host's IP address first" >&2
  exit 1
fi
[ -n "$password" ] || { echo "install.sh: harbor_admin_password is empty" >&2; exit 1; }
[ -n "$data" ] || data=/var/lib/harbor
projects=""
for p in $(sed -n 's/^project:[[:space:]]*\([a-z0-9._-]*\)[[:space:]]\{1,\}\(public\|private\).*/\1=\2/p' harbor.yml); do
  projects="$projects --${p#*=} ${p%%=*}"
done

mkdir -p "$data/registry" "$data/secret" "$data/log" /etc/harbor
# Stop what an earlier run started.
for pidfile in "$data"/log/*.pid; do
  [ -f "$pidfile" ] || continue
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
done
sleep 0.3

# The token signing key and its self-signed certificate (the registry's root of trust).
if [ ! -s "$data/secret/private_key.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=harbor-token-issuer" \
    -keyout "$data/secret/private_key.pem" -out "$data/secret/root.crt" 2>/dev/null
fi

cat > /etc/harbor/registry.yml <<CONF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $data/registry
  delete:
    enabled: true
http:
  addr: 0.0.0.0:80
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: http://$host:5001/service/token
    service: harbor-registry
    issuer: harbor-token-issuer
    rootcertbundle: $data/secret/root.crt
CONF

setsid berth-lab-host token-server --listen 0.0.0.0:5001 --service harbor-registry \
  --issuer harbor-token-issuer --key "$data/secret/private_key.pem" --cert "$data/secret/root.crt" \
  --user "admin:$password" $projects >>"$data/log/token.log" 2>&1 </dev/null &
echo $! > "$data/log/token.pid"
setsid docker-registry serve /etc/harbor/registry.yml >>"$data/log/registry.log" 2>&1 </dev/null &
echo $! > "$data/log/registry.pid"

for i in $(seq 100); do
  if ss -ltn | grep -q ':80 ' && ss -ltn | grep -q ':5001 '; then
    echo "The private registry is running: http://$host/ (token service http://$host:5001/service/token)"
    echo "projects:$projects"
    echo "logs: $data/log/registry.log $data/log/token.log"
    exit 0
  fi
  sleep 0.1
done
echo "install.sh: the registry did not start; see $data/log/registry.log and $data/log/token.log" >&2
exit 1
