# watch: __main__.EVENTS
import asyncio

EVENTS = []  # culprit: STORE_NAME


async def step(name, n):
    for i in range(n):
        EVENTS.append((name, i))  # culprit: CALL x4
        await asyncio.sleep(0)


async def main():
    await asyncio.gather(step("a", 2), step("b", 2))
    EVENTS.append("done")  # culprit: CALL


asyncio.run(main())
