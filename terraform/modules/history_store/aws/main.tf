# Amazon Keyspaces: the keyspace; the app's own migrations create the tables (marketpulse.stores.cassandra).
resource "aws_keyspaces_keyspace" "this" {
  name = var.keyspace
  tags = var.tags
}

data "aws_region" "current" {}
