# Apache Cassandra on Compute Engine (GCP has no managed Cassandra): one VM per node, Debian + the
# Apache Cassandra apt repository, installed by the startup script; the app's migrations create the tables.
resource "google_compute_instance" "this" {
  count        = var.node_count
  project      = var.project
  zone         = var.zones[count.index % length(var.zones)]
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
  }

  service_account {
    email  = var.service_account_email
    scopes = ["cloud-platform"]
  }

  metadata = {
    cluster-name = var.name
    seeds        = "${var.name}-cassandra-0"
  }

  metadata_startup_script = file("${path.module}/startup.sh")
}
