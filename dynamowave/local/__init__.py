"""The local runtime behind `dynamowave dev`: API Gateway's WebSocket and management APIs, an
embedded DynamoDB, and the same Lambda handlers that run on AWS."""
