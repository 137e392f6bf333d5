# Apache Cassandra 5.0 on Compute Engine (GCP has no managed Cassandra): one VM per node, Debian + the Apache
# Cassandra apt repository, installed by the startup script. Zones come from the region (or var.zones), seeds
# are reserved internal IPs (no name resolution needed at boot), PasswordAuthenticator is on, and node 0
# creates the app role and the keyspace once the ring has formed; the app's migrations create the tables.
data "google_compute_zones" "available" {
  project = var.project
  region  = var.region
  status  = "UP"
}

locals {
  zones = length(var.zones) > 0 ? var.zones : slice(sort(data.google_compute_zones.available.names), 0, min(3, length(data.google_compute_zones.available.names)))
  seeds = join(",", slice(google_compute_address.this[*].address, 0, min(2, var.node_count)))
}

resource "google_compute_address" "this" {
  count        = var.node_count
  project      = var.project
  region       = var.region
  name         = "${var.name}-cassandra-${count.index}"
  address_type = "INTERNAL"
  subnetwork   = var.subnetwork_id
}

# The app role's password, read by node 0's startup script with the VM's service account.
resource "google_secret_manager_secret" "this" {
  project   = var.project
  secret_id = "${var.name}-cassandra-app-password"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "this" {
  secret      = google_secret_manager_secret.this.id
  secret_data = var.app_password
}

resource "google_secret_manager_secret_iam_member" "this" {
  project   = var.project
  secret_id = google_secret_manager_secret.this.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.service_account_email}"
}

resource "google_compute_instance" "this" {
  count        = var.node_count
  project      = var.project
  zone         = local.zones[count.index % length(local.zones)]
  name         = "${var.name}-cassandra-${count.index}"
  machine_type = var.machine_type
  tags         = ["cassandra"]
  labels       = var.labels

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
      size  = var.disk_size_gb
      type  = "pd-ssd"
    }
  }

  network_interface {
    subnetwork = var.subnetwork_id
    network_ip = google_compute_address.this[count.index].address
  }

  service_account {
    email  = var.service_account_email
    scopes = ["cloud-platform"]
  }

  metadata = {
    cluster-name      = var.name
    seeds             = local.seeds
    node-index        = tostring(count.index)
    node-count        = tostring(var.node_count)
    keyspace          = var.keyspace
    app-user          = var.app_user
    app-password-name = google_secret_manager_secret.this.secret_id
  }

  metadata_startup_script = file("${path.module}/startup.sh")
  depends_on              = [google_secret_manager_secret_version.this, google_secret_manager_secret_iam_member.this]
}
