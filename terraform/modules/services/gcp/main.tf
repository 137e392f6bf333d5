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
    dynamic "volumes" {
      for_each = var.ca_secret_id == "" ? [] : [var.ca_secret_id]
      content {
        name = "redis-ca"
        secret {
          secret = volumes.value
          items {
            version = "latest"
            path    = "ca.pem"
          }
        }
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
      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }
      dynamic "volume_mounts" {
        for_each = var.ca_secret_id == "" ? [] : [1]
        content {
          name       = "redis-ca"
          mount_path = "/secrets/redis-ca"
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

# Public services answer anyone (the API checks its own keys; the dashboard is read-only). An organisation
# policy that forbids allUsers blocks this binding: then set public = false and put IAP in front.
resource "google_cloud_run_v2_service_iam_member" "this" {
  for_each = { for name, s in var.services : name => s if s.public }
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_service.this[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
