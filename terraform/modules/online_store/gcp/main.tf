# Memorystore for Redis (Standard tier: replica + failover), in the platform's VPC, TLS in transit with the
# instance's own CA (exported: clients must trust it) and AUTH.
resource "google_redis_instance" "this" {
  project                 = var.project
  region                  = var.region
  name                    = var.name
  tier                    = "STANDARD_HA"
  memory_size_gb          = var.memory_size_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = var.network_id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  labels                  = var.labels
}
