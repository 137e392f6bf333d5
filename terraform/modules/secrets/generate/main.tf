# Every password the platform needs, generated here once and kept in the state (encrypted backends only):
# the cloud's secret store receives them, the services read them from there.
resource "random_password" "this" {
  for_each = var.names
  length   = var.length
  # Only characters that need no quoting in a URL or a libpq/SQLAlchemy connection string: the app builds
  # rediss:// URLs and DSNs from some of these, and special characters are the app's job, not the cloud's.
  special = false
}
