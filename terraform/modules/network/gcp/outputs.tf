output "network_id" {
  description = "The VPC network."
  value       = google_compute_network.this.id
}

output "subnetwork_id" {
  description = "The regional subnetwork."
  value       = google_compute_subnetwork.this.id
}

output "private_services_connection" {
  description = "The private services access peering (Cloud SQL and Memorystore depend on it)."
  value       = google_service_networking_connection.this.id
}

output "cidr_range" {
  description = "Address range of the subnetwork."
  value       = var.cidr_range
}

output "secondary_ranges" {
  description = "Names of the pods and services secondary ranges (GKE ip_allocation_policy)."
  value       = { pods = "pods", services = "services" }
}
