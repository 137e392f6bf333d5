#!/bin/bash
# Install and start Apache Cassandra 5.0 on first boot (Debian 12 VM). Seeds are IPs, the cluster name, the
# keyspace and the app role come from metadata; node 0 creates the role and the keyspace once every node is up.
set -euo pipefail
md() { curl -fsS -H "Metadata-Flavor: Google" "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1"; }
if ! systemctl is-active --quiet cassandra; then
  apt-get update -q && apt-get install -y -q openjdk-17-jre-headless curl gnupg
  curl -fsSL https://downloads.apache.org/cassandra/KEYS | gpg --dearmor -o /usr/share/keyrings/cassandra.gpg
  echo "deb [signed-by=/usr/share/keyrings/cassandra.gpg] https://debian.cassandra.apache.org 50x main" > /etc/apt/sources.list.d/cassandra.list
  apt-get update -q && apt-get install -y -q cassandra
  systemctl stop cassandra
  conf=/etc/cassandra/cassandra.yaml
  ip=$(curl -fsS -H "Metadata-Flavor: Google" http://metadata.google.internal/computeMetadata/v1/instance/network-interfaces/0/ip)
  sed -i "s/^cluster_name:.*/cluster_name: '$(md cluster-name)'/" "$conf"
  sed -i "s/- seeds:.*/- seeds: \"$(md seeds)\"/" "$conf"
  sed -i "s/^listen_address:.*/listen_address: $ip/; s/^rpc_address:.*/rpc_address: $ip/" "$conf"
  sed -i "s/^authenticator:.*/authenticator: PasswordAuthenticator/; s/^authorizer:.*/authorizer: CassandraAuthorizer/" "$conf"
  sed -i "s/^endpoint_snitch:.*/endpoint_snitch: GossipingPropertyFileSnitch/" "$conf"
  systemctl enable --now cassandra
fi
[ "$(md node-index)" = "0" ] || exit 0
[ -f /var/lib/cassandra/.marketpulse-bootstrapped ] && exit 0
# Wait until every node is Up/Normal, then create the app role and the keyspace (replication 3 in dc1).
until [ "$(nodetool status 2>/dev/null | grep -c '^UN')" -ge "$(md node-count)" ]; do sleep 10; done
password=$(gcloud secrets versions access latest --secret="$(md app-password-name)")
rf=$(( $(md node-count) < 3 ? $(md node-count) : 3 ))
cqlsh "$(hostname -I | awk '{print $1}')" -u cassandra -p cassandra <<CQL
ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': $rf};
CREATE ROLE IF NOT EXISTS $(md app-user) WITH PASSWORD = '$password' AND LOGIN = true;
CREATE KEYSPACE IF NOT EXISTS $(md keyspace) WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': $rf};
GRANT ALL PERMISSIONS ON KEYSPACE $(md keyspace) TO $(md app-user);
CQL
# The default superuser must not keep its well-known password: a random one, readable by root on node 0 only.
umask 077
admin=$(openssl rand -hex 24)
echo "$admin" > /root/cassandra-admin-password
cqlsh "$(hostname -I | awk '{print $1}')" -u cassandra -p cassandra -e "ALTER ROLE cassandra WITH PASSWORD = '$admin';"
touch /var/lib/cassandra/.marketpulse-bootstrapped
