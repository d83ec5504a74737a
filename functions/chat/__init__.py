"""DynamoWave chat domain: protocol, store and delivery shared by every Lambda handler."""
