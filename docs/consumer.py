import boto3, json, os
sqs, seen = boto3.client("sqs"), set()            # use a DynamoDB conditional put for `seen` in production
url = os.environ["APPLICATION_QUEUE_URL"]         # the stack's ApplicationQueueUrl output
while True:
    for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20).get("Messages", []):
        event = json.loads(m["Body"])
        if event["id"] not in seen:               # deduplicate on the event id
            seen.add(event["id"])
            print(event["type"], event.get("subject"), event.get("kycjourneystate"), flush=True)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
