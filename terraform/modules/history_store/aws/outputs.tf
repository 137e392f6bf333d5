output "keyspace" {
  description = "The keyspace (MARKETPULSE_CASSANDRA__KEYSPACE)."
  value       = aws_keyspaces_keyspace.this.name
}

output "hosts" {
  description = "Contact points (MARKETPULSE_CASSANDRA__HOSTS); Keyspaces listens on 9142 with TLS."
  value       = ["cassandra.${data.aws_region.current.region}.amazonaws.com"]
}
