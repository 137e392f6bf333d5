#!/bin/bash
# Install and start Apache Cassandra 5.0 on first boot (Debian 12 VM); seeds and cluster name come from metadata.
set -euo pipefail
if systemctl is-active --quiet cassandra; then exit 0; fi
md() { curl -fsS -H "Metadata-Flavor: Google" "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1"; }
apt-get update -q && apt-get install -y -q openjdk-17-jre-headless curl gnupg
curl -fsSL https://downloads.apache.org/cassandra/KEYS | gpg --dearmor -o /usr/share/keyrings/cassandra.gpg
echo "deb [signed-by=/usr/share/keyrings/cassandra.gpg] https://debian.cassandra.apache.org 50x main" > /etc/apt/sources.list.d/cassandra.list
apt-get update -q && apt-get install -y -q cassandra
systemctl stop cassandra
conf=/etc/cassandra/cassandra.yaml
ip=$(hostname -I | awk '{print $1}')
sed -i "s/^cluster_name:.*/cluster_name: '$(md cluster-name)'/" "$conf"
sed -i "s/- seeds:.*/- seeds: \"$(getent hosts "$(md seeds)" | awk '{print $1}' || echo "$ip")\"/" "$conf"
sed -i "s/^listen_address:.*/listen_address: $ip/; s/^rpc_address:.*/rpc_address: $ip/" "$conf"
systemctl enable --now cassandra
