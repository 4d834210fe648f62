"""The cost report (`tiergate costs`): what each request costs to serve, and whether each tier
makes money. What a request measures and records is the deployed package's
(`tiergate.observe`: the cost meter, the counted store, the recording); only the report lives
here: the price list, the cost model, the CloudWatch reader, `--profile`, text and HTML."""
