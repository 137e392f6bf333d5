output "hosts" {
  description = "Contact points (MARKETPULSE_CASSANDRA__HOSTS)."
  value       = google_compute_instance.this[*].network_interface[0].network_ip
}
