# Cloud Run services for ingest, the API and the dashboard, egressing straight into the VPC.
resource "google_cloud_run_v2_service" "this" {
  for_each = var.services
  project  = var.project
  location = var.region
  name     = "${var.name}-${each.key}"
  ingress  = each.value.public ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  labels   = var.labels

  template {
    service_account = var.service_account_email
    scaling {
      min_instance_count = each.value.min_instances
      max_instance_count = each.value.max_instances
    }
    vpc_access {
      egress = "PRIVATE_RANGES_ONLY"
      network_interfaces {
        network    = var.network_id
        subnetwork = var.subnetwork_id
      }
    }
    containers {
      image = var.image
      args  = each.value.args
      ports {
        container_port = each.value.port
      }
      dynamic "env" {
        for_each = var.app_env
        content {
          name  = env.key
          value = env.value
        }
      }
      resources {
        # Streams and sockets stay open: keep the CPU allocated between requests.
        cpu_idle = false
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
      }
    }
  }
}
