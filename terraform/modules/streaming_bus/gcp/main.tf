# Google Cloud Managed Service for Apache Kafka: the cluster and the platform's topics.
resource "google_managed_kafka_cluster" "this" {
  project    = var.project
  location   = var.region
  cluster_id = var.name

  capacity_config {
    vcpu_count   = var.vcpu_count
    memory_bytes = var.vcpu_count * 4 * 1024 * 1024 * 1024
  }

  gcp_config {
    access_config {
      network_configs {
        subnet = var.subnetwork_id
      }
    }
  }

  labels = var.labels
}

resource "google_managed_kafka_topic" "this" {
  for_each           = var.topics
  project            = var.project
  location           = var.region
  cluster            = google_managed_kafka_cluster.this.cluster_id
  topic_id           = each.key
  partition_count    = var.partitions
  replication_factor = 3
  configs = {
    "retention.ms"   = tostring(each.value.retention_ms)
    "cleanup.policy" = "delete"
  }
}
