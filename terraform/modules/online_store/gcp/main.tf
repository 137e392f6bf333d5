# Memorystore for Redis (Standard tier: replica + failover), in the platform's VPC, TLS in transit.
resource "google_redis_instance" "this" {
  project                 = var.project
  region                  = var.region
  name                    = var.name
  tier                    = "STANDARD_HA"
  memory_size_gb          = var.memory_size_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = var.network_id
  connect_mode            = "DIRECT_PEERING"
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  labels                  = var.labels
}
