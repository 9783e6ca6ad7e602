# watch: __main__.PULLED
import asyncio

PULLED = []  # culprit: STORE_NAME


async def ticks(n):
    for i in range(n):
        PULLED.append(i)  # culprit: CALL x2
        yield i


async def main():
    async for _ in ticks(2):
        await asyncio.sleep(0)


asyncio.run(main())
