# Soak: the counting tests at full size (1,000 messages with post faults, 1,000 concurrent clients).
# `make test` runs the same file at small sizes; DYNAMOWAVE_SOAK=1 switches them (tests/integration/test_counting.py SIZES).
.PHONY: soak

soak: setup test-deps ## delivery-guarantee counting tests at full size (slow: tens of minutes)
	DYNAMOWAVE_SOAK=1 $(BIN)/pytest tests/integration/test_counting.py -s $(PYTEST_ARGS)
