output "network_id" {
  description = "The VPC network."
  value       = google_compute_network.this.id
}

output "subnetwork_id" {
  description = "The regional subnetwork."
  value       = google_compute_subnetwork.this.id
}
